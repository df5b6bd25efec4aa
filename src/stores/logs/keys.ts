import { randomBytes } from "node:crypto";
import { StorageError } from "../../errors.ts";

/**
 * Keys of the log archive (seed §3.3): `{service}/{date}/{hour}/{filename}.log[.gz]` is an hour's
 * compacted object; before compaction, each flushed batch is a part at
 * `{service}/{date}/{hour}/_parts/{filename}/{stamp}-{rand}.log[.gz]`, where the zero-padded
 * millisecond stamp sorts parts in the order they were written. The date directory is the log's
 * own date, which is what rotation judges.
 */

export type Compression = "gzip" | "none";

export interface HourFile {
  service: string;
  /** YYYY-MM-DD (UTC). */
  date: string;
  /** "00".."23" (UTC). */
  hour: string;
  /** Without the .log suffix. */
  filename: string;
}

const SERVICE = /^[a-z0-9][a-z0-9._-]{0,62}$/;
const FILENAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;
const DATE = /^(\d{4})-(\d{2})-(\d{2})$/;
export const PARTS_DIR = "_parts";

const bad = (field: string, message: string) => new StorageError("INVALID_ARGUMENT", message, { field });

export function checkService(service: string): string {
  if (!SERVICE.test(service)) {
    throw bad(
      "service",
      "service must be 1-63 of a-z, 0-9, '.', '_' or '-', starting with a letter or digit.",
    );
  }
  return service;
}

export function checkDate(date: string): string {
  const m = DATE.exec(date);
  const d = m ? new Date(`${date}T00:00:00Z`) : undefined;
  // Round-tripping refuses dates such as 2026-02-30 that Date would roll over.
  if (!d || Number.isNaN(d.getTime()) || d.toISOString().slice(0, 10) !== date) {
    throw bad("date", "date must be a calendar date as YYYY-MM-DD.");
  }
  return date;
}

export function checkHour(hour: string | number): string {
  const text = String(hour);
  const n = /^\d{1,2}$/.test(text) ? Number(text) : Number.NaN;
  if (!(n >= 0 && n <= 23)) throw bad("hour", "hour must be 0-23 (UTC).");
  return String(n).padStart(2, "0");
}

export function checkFilename(filename: string): string {
  const name = filename.replace(/\.log(\.gz)?$/, "");
  if (!FILENAME.test(name) || name.includes("..")) {
    throw bad(
      "filename",
      "filename must be 1-128 of A-Z, a-z, 0-9, '.', '_' or '-', starting with a letter or digit.",
    );
  }
  return name;
}

export function hourFile(input: {
  service: string;
  date: string;
  hour: string | number;
  filename?: string;
}): HourFile {
  return {
    service: checkService(input.service),
    date: checkDate(input.date),
    hour: checkHour(input.hour),
    filename: checkFilename(input.filename ?? "app"),
  };
}

/** The date and hour (UTC) a moment falls in. */
export function hourOf(at: Date): { date: string; hour: string } {
  const iso = at.toISOString();
  return { date: iso.slice(0, 10), hour: iso.slice(11, 13) };
}

export const suffix = (c: Compression) => (c === "gzip" ? ".log.gz" : ".log");
export const hourPrefix = (f: Pick<HourFile, "service" | "date" | "hour">) =>
  `${f.service}/${f.date}/${f.hour}/`;
export const compactedKey = (f: HourFile, c: Compression) => `${hourPrefix(f)}${f.filename}${suffix(c)}`;
export const partsPrefix = (f: HourFile) => `${hourPrefix(f)}${PARTS_DIR}/${f.filename}/`;

export function partKey(f: HourFile, c: Compression, at = Date.now()): string {
  return `${partsPrefix(f)}${String(at).padStart(15, "0")}-${randomBytes(4).toString("hex")}${suffix(c)}`;
}

export interface ParsedKey extends HourFile {
  part: boolean;
  compression: Compression;
}

/** The parts of a key of ours, or undefined for anything else found in the bucket. */
export function parseKey(key: string): ParsedKey | undefined {
  const m =
    /^([^/]+)\/(\d{4}-\d{2}-\d{2})\/(\d{2})\/(?:_parts\/([^/]+)\/[0-9]+-[0-9a-f]+|([^/]+?))\.log(\.gz)?$/.exec(
      key,
    );
  if (!m) return undefined;
  const [, service, date, hour, partName, name, gz] = m;
  return {
    service: service as string,
    date: date as string,
    hour: hour as string,
    filename: (partName ?? name) as string,
    part: partName !== undefined,
    compression: gz ? "gzip" : "none",
  };
}
