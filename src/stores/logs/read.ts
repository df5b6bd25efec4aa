import { createInterface } from "node:readline";
import type { StorageService } from "../../core/storage-service.ts";
import type { ObjectSummary } from "../../core/types.ts";
import { StorageError } from "../../errors.ts";
import { checkDate, checkHour, checkService, parseKey } from "./keys.ts";
import { listAll } from "./listing.ts";
import { openText } from "./objects.ts";

/**
 * A day's lines for one service, decompressed, in time order: hour by hour; within an hour file
 * by file (by name), each file's compacted object first and then its parts in the order they were
 * written. Lines are streamed, one object open at a time.
 */

export interface DayQuery {
  service: string;
  date: string;
  /** Inclusive hour range (UTC), default the whole day. */
  fromHour?: string | number;
  toHour?: string | number;
  /** Only lines containing this text. */
  contains?: string;
  /** Only lines matching this regular expression (JavaScript syntax, at most 256 characters). */
  regex?: string;
}

export interface DayObject {
  key: string;
  hour: string;
  filename: string;
  part: boolean;
  size: number;
}

const MAX_REGEX = 256;

export function lineFilter(q: Pick<DayQuery, "contains" | "regex">): (line: string) => boolean {
  const tests: Array<(line: string) => boolean> = [];
  if (q.contains) {
    const text = q.contains;
    tests.push((line) => line.includes(text));
  }
  if (q.regex) {
    if (q.regex.length > MAX_REGEX) {
      throw new StorageError("INVALID_ARGUMENT", `regex must be at most ${MAX_REGEX} characters.`, {
        field: "regex",
      });
    }
    let re: RegExp;
    try {
      re = new RegExp(q.regex);
    } catch (err) {
      throw new StorageError(
        "INVALID_ARGUMENT",
        `regex is not a valid regular expression: ${(err as Error).message}`,
        {
          field: "regex",
        },
      );
    }
    tests.push((line) => re.test(line));
  }
  return (line) => tests.every((t) => t(line));
}

/** The day's objects in reading order (validates the query; lists before any line is read). */
export async function dayObjects(
  deps: { service: StorageService; bucket: string },
  q: DayQuery,
): Promise<Array<DayObject & { summary: ObjectSummary; compression: "gzip" | "none" }>> {
  const service = checkService(q.service);
  const date = checkDate(q.date);
  const from = q.fromHour === undefined ? "00" : checkHour(q.fromHour);
  const to = q.toHour === undefined ? "23" : checkHour(q.toHour);
  if (from > to)
    throw new StorageError("INVALID_ARGUMENT", "fromHour is after toHour.", { field: "fromHour" });
  const out: Array<DayObject & { summary: ObjectSummary; compression: "gzip" | "none" }> = [];
  for await (const o of listAll(deps.service, deps.bucket, `${service}/${date}/`)) {
    const p = parseKey(o.key);
    if (!p || p.hour < from || p.hour > to) continue;
    out.push({
      key: o.key,
      hour: p.hour,
      filename: p.filename,
      part: p.part,
      size: o.size,
      summary: o,
      compression: p.compression,
    });
  }
  // Keys sort parts by their stamp; the compacted object precedes its file's parts.
  const rank = (o: DayObject) => `${o.hour}/${o.filename}/${o.part ? "1" : "0"}/${o.key}`;
  return out.sort((a, b) => (rank(a) < rank(b) ? -1 : 1));
}

export async function* readDay(
  deps: { service: StorageService; bucket: string },
  q: DayQuery,
  signal?: AbortSignal,
): AsyncGenerator<string> {
  const keep = lineFilter(q);
  const objects = await dayObjects(deps, q);
  for (const o of objects) {
    signal?.throwIfAborted();
    let text: Awaited<ReturnType<typeof openText>>;
    try {
      text = await openText(deps.service, deps.bucket, o.key, o.compression);
    } catch (err) {
      // Compacted away between listing and reading: its lines are in the compacted object, read earlier.
      if (err instanceof StorageError && err.code === "NOT_FOUND" && o.part) continue;
      throw err;
    }
    const lines = createInterface({ input: text, crlfDelay: Number.POSITIVE_INFINITY });
    try {
      for await (const line of lines) if (keep(line)) yield line;
    } catch (err) {
      throw err instanceof StorageError
        ? err
        : new StorageError(
            "DATA_CORRUPTED",
            `${o.key} could not be decompressed.`,
            { key: o.key },
            { cause: err },
          );
    } finally {
      lines.close();
      text.destroy();
    }
  }
}
