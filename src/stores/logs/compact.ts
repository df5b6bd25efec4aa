import type { StorageService } from "../../core/storage-service.ts";
import type { ObjectSummary } from "../../core/types.ts";
import { StorageError } from "../../errors.ts";
import { type Compression, compactedKey, type HourFile, hourPrefix, parseKey } from "./keys.ts";
import { listAll } from "./listing.ts";
import { storedBytes, writeLogObject } from "./objects.ts";

/**
 * Compaction of one hour: per file, the compacted object (if any) followed by its parts in stamp
 * order is written as the new compacted object (gzip members concatenate, so this copies bytes),
 * then those parts are deleted. The write is conditional on the compacted object being the one
 * that was read (ifMatch / ifNoneMatch "*"), so two instances compacting the same hour cannot
 * lose a part: the loser's write is refused and it deletes nothing. A part that arrives meanwhile
 * is not in this round's list and stays for the next one.
 */

export interface CompactDeps {
  service: StorageService;
  bucket: string;
  compression: Compression;
}

export interface CompactResult {
  service: string;
  date: string;
  hour: string;
  /** Compacted objects written. */
  objects: number;
  /** Parts merged (and deleted). */
  parts: number;
  /** Files skipped because another writer compacted them at the same moment. */
  conflicts: number;
}

interface FileObjects {
  file: HourFile;
  compacted?: ObjectSummary;
  parts: ObjectSummary[];
}

export async function compactHour(
  deps: CompactDeps,
  hour: Pick<HourFile, "service" | "date" | "hour">,
): Promise<CompactResult> {
  const result: CompactResult = {
    service: hour.service,
    date: hour.date,
    hour: hour.hour,
    objects: 0,
    parts: 0,
    conflicts: 0,
  };
  const files = new Map<string, FileObjects>();
  for await (const o of listAll(deps.service, deps.bucket, hourPrefix(hour))) {
    const parsed = parseKey(o.key);
    // Objects of the other compression setting are left alone: their bytes would not concatenate.
    if (!parsed || parsed.compression !== deps.compression) continue;
    const entry = files.get(parsed.filename) ?? { file: parsed, parts: [] };
    files.set(parsed.filename, entry);
    if (parsed.part) entry.parts.push(o);
    else entry.compacted = o;
  }
  for (const entry of files.values()) {
    if (entry.parts.length === 0) continue;
    entry.parts.sort((a, b) => (a.key < b.key ? -1 : 1));
    const sources = [...(entry.compacted ? [entry.compacted] : []), ...entry.parts];
    const service = deps.service;
    async function* concatenated(): AsyncGenerator<Buffer> {
      for (const s of sources) yield* storedBytes(service, deps.bucket, s.key);
    }
    try {
      await writeLogObject({
        service,
        bucket: deps.bucket,
        key: compactedKey(entry.file, deps.compression),
        // Already compressed members: copied as they are.
        compression: "none",
        contentType: deps.compression === "gzip" ? "application/gzip" : "text/plain; charset=utf-8",
        source: concatenated(),
        owner: "lumenslate-logs",
        ...(entry.compacted ? { ifMatch: entry.compacted.etag } : { ifNoneMatch: "*" as const }),
      });
    } catch (err) {
      if (err instanceof StorageError && err.code === "PRECONDITION_FAILED") {
        result.conflicts++;
        continue;
      }
      throw err;
    }
    for (const p of entry.parts) {
      await service.delete(deps.bucket, p.key).catch((err: unknown) => {
        // Already gone (another compactor, rotation): the bytes are in the compacted object.
        if (!(err instanceof StorageError && err.code === "NOT_FOUND")) throw err;
      });
    }
    result.objects++;
    result.parts += entry.parts.length;
  }
  return result;
}
