import { readdir } from "node:fs/promises";
import path from "node:path";
import { mapBounded } from "../../bounded.ts";
import { decodeCursor, encodeCursor } from "../../cursor.ts";
import { StorageError } from "../../errors.ts";
import type { ListedObject, ListOptions, ListPage } from "../object-store.ts";
import { isMissing } from "./fs-errors.ts";
import { HASH_RE, META_FILE, SHARD_RE } from "./layout.ts";
import { type ObjectMeta, readMeta } from "./meta-file.ts";

export const DEFAULT_LIST_LIMIT = 1000;
export const MAX_LIST_LIMIT = 1000;
// Bounds open descriptors while reading many meta.json files.
const READ_CONCURRENCY = 32;

/** S3 orders keys by their UTF-8 bytes, which differs from JS string order outside the BMP. */
const byteCompare = (a: string, b: string): number => Buffer.compare(Buffer.from(a), Buffer.from(b));

const subdirs = async (dir: string, re: RegExp): Promise<string[]> => {
  try {
    const entries = await readdir(dir, { withFileTypes: true });
    return entries.filter((e) => e.isDirectory() && re.test(e.name)).map((e) => path.join(dir, e.name));
  } catch (err) {
    if (isMissing(err)) return [];
    throw err;
  }
};

/**
 * Reads every object's meta in a bucket. Keys are hashed on disk, so there is no way to seek to a
 * prefix: each page is a full scan. Fine for the local backend's scale (dev, single node).
 */
export async function readAllMeta(bucketDir: string): Promise<ObjectMeta[]> {
  const shards = await subdirs(bucketDir, SHARD_RE);
  const objectDirs = (await mapBounded(shards, READ_CONCURRENCY, (s) => subdirs(s, HASH_RE))).flat();
  const metas = await mapBounded(objectDirs, READ_CONCURRENCY, async (dir) => {
    try {
      return await readMeta(path.join(dir, META_FILE));
    } catch (err) {
      // One damaged meta file must not make the whole bucket unlistable; get/head will report it.
      if (err instanceof StorageError && err.code === "DATA_CORRUPTED") return undefined;
      throw err;
    }
  });
  return metas.filter((m): m is ObjectMeta => m !== undefined);
}

export function resolveLimit(limit: number | undefined): number {
  if (limit === undefined) return DEFAULT_LIST_LIMIT;
  if (!Number.isSafeInteger(limit) || limit < 1) {
    throw new StorageError("INVALID_ARGUMENT", "List limit must be a positive integer.", { field: "limit" });
  }
  return Math.min(limit, MAX_LIST_LIMIT);
}

type Entry = { name: string; object?: ListedObject };

/**
 * One S3-style page: filter by prefix, roll keys up to common prefixes at the first delimiter after
 * the prefix, then resume strictly after the cursor's marker (an object key or a common prefix).
 * Keys sharing a common prefix are contiguous in sorted order, so the rolled-up list stays sorted.
 */
export function paginate(metas: ObjectMeta[], options: ListOptions = {}): ListPage {
  const prefix = options.prefix ?? "";
  const delimiter = options.delimiter || undefined;
  const limit = resolveLimit(options.limit);
  const marker = options.cursor === undefined ? options.startAfter : decodeCursor(options.cursor);

  const sorted = metas.filter((m) => m.key.startsWith(prefix)).sort((a, b) => byteCompare(a.key, b.key));
  const entries: Entry[] = [];
  for (const m of sorted) {
    const rest = m.key.slice(prefix.length);
    const at = delimiter === undefined ? -1 : rest.indexOf(delimiter);
    if (at >= 0 && delimiter !== undefined) {
      const common = prefix + rest.slice(0, at + delimiter.length);
      if (entries.at(-1)?.name !== common) entries.push({ name: common });
      continue;
    }
    entries.push({
      name: m.key,
      object: { key: m.key, size: m.size, etag: m.etag, lastModified: new Date(m.lastModified) },
    });
  }

  const remaining = marker === undefined ? entries : entries.filter((e) => byteCompare(e.name, marker) > 0);
  const page = remaining.slice(0, limit);
  const objects: ListedObject[] = [];
  const prefixes: string[] = [];
  for (const e of page) {
    if (e.object) objects.push(e.object);
    else prefixes.push(e.name);
  }
  const last = page.at(-1);
  return remaining.length > limit && last
    ? { objects, prefixes, nextCursor: encodeCursor(last.name) }
    : { objects, prefixes };
}
