import { mkdir, readdir, stat } from "node:fs/promises";
import path from "node:path";
import { mapBounded } from "../bounded.ts";
import type { ObjectSummary } from "../core/types.ts";
import { asStorageError, type ErrorCode, StorageError } from "../errors.ts";
import type { StorageApi } from "./api.ts";
import { sha256File, writeFileAtomically } from "./files.ts";
import type { Progress } from "./progress.ts";

/**
 * Whole directory trees to and from `bucket/prefix`: `put -r`, `get -r` and `mirror` (which skips
 * files whose sha256 already matches). Works through a StorageApi, so in local and remote mode alike.
 * One file failing does not stop the others: each failure is counted and reported in the summary,
 * and only cancelling (Ctrl-C) stops the run.
 */

export interface RemotePlace {
  bucket: string;
  /** "" or ending in "/". */
  prefix: string;
}

export interface TreeFailure {
  path: string;
  key: string;
  code: ErrorCode;
  message: string;
}

export interface TreeSummary {
  direction: "upload" | "download";
  source: string;
  target: string;
  /** Files (upload) or objects (download) considered. */
  files: number;
  uploaded: number;
  downloaded: number;
  /** Already there with the same sha256 (mirror only). */
  skipped: number;
  failed: number;
  /** Bytes transferred (skipped files not counted). */
  bytes: number;
  failures: TreeFailure[];
}

export interface TreeOptions {
  concurrency: number;
  /** Leave files whose sha256 matches the other side alone (mirror). */
  skipMatching: boolean;
  /** Recorded for uploads in local mode. */
  owner: string;
  signal: AbortSignal;
  /** A bar for the whole run's bytes, started once the total is known. */
  progress?: (totalBytes: number) => Progress;
}

const invalid = (message: string, field = "path") => new StorageError("INVALID_ARGUMENT", message, { field });

/** `bucket` or `bucket/prefix`; the prefix is taken as a folder (a trailing "/" is added). */
export function parseRemotePlace(text: string): RemotePlace {
  const slash = text.indexOf("/");
  const bucket = slash < 0 ? text : text.slice(0, slash);
  const rest = slash < 0 ? "" : text.slice(slash + 1).replace(/^\/+/, "");
  if (!bucket) throw invalid(`Expected bucket or bucket/prefix, got '${text}'.`, "bucket");
  return { bucket, prefix: rest && !rest.endsWith("/") ? `${rest}/` : rest };
}

/**
 * A mirror side: a local directory when it is written as a path (starts with `/` or `.`) or names an
 * existing directory; `bucket/prefix` otherwise. A new relative directory is written `./name`.
 */
export async function parsePlace(text: string): Promise<{ local: string } | { remote: RemotePlace }> {
  if (!text) throw invalid("A mirror side is empty.");
  if (text.startsWith("/") || text.startsWith(".")) return { local: text };
  const isDir = await stat(text).then(
    (s) => s.isDirectory(),
    () => false,
  );
  return isDir ? { local: text } : { remote: parseRemotePlace(text) };
}

const describePlace = (place: RemotePlace) => `${place.bucket}/${place.prefix}`;

/** Our own temp files (files.ts), left behind only by a killed download: never uploaded. */
const PARTIAL = /\.partial-\d+-\d+$/;

export interface LocalFile {
  rel: string;
  path: string;
  size: number;
}

/** Every regular file under `dir` with its `/`-separated relative path, sorted by it. */
export async function localFiles(dir: string): Promise<LocalFile[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true }).catch((err: unknown) => {
    throw invalid(`Cannot read the directory ${dir}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  });
  const files: LocalFile[] = [];
  // Regular files only: symbolic links are not followed (they may leave the tree, or loop).
  for (const entry of entries) {
    if (!entry.isFile() || PARTIAL.test(entry.name)) continue;
    const full = path.join(entry.parentPath, entry.name);
    const size = (await stat(full)).size;
    files.push({ rel: path.relative(dir, full).split(path.sep).join("/"), path: full, size });
  }
  return files.sort((a, b) => (a.rel < b.rel ? -1 : a.rel > b.rel ? 1 : 0));
}

async function remoteObjects(api: StorageApi, place: RemotePlace): Promise<ObjectSummary[]> {
  const objects: ObjectSummary[] = [];
  let cursor: string | undefined;
  do {
    const page = await api.ls(place.bucket, {
      recursive: true,
      limit: 1000,
      ...(place.prefix ? { prefix: place.prefix } : {}),
      ...(cursor ? { cursor } : {}),
    });
    objects.push(...page.objects);
    cursor = page.nextCursor;
  } while (cursor);
  return objects;
}

/**
 * Where an object goes under `dir`, or undefined for a folder marker (a key ending in "/"). A key
 * that would leave the directory or that no file can be named after (`..`, empty segments) is refused.
 */
export function localPathFor(dir: string, rel: string): string | undefined {
  if (rel === "" || rel.endsWith("/")) return undefined;
  const parts = rel.split("/");
  if (parts.some((p) => p === "" || p === "." || p === "..") || rel.includes("\0")) {
    throw invalid(`The key part '${rel}' cannot be a file name under ${dir}.`, "key");
  }
  return path.join(dir, ...parts);
}

function newSummary(direction: TreeSummary["direction"], source: string, target: string): TreeSummary {
  return {
    direction,
    source,
    target,
    files: 0,
    uploaded: 0,
    downloaded: 0,
    skipped: 0,
    failed: 0,
    bytes: 0,
    failures: [],
  };
}

/** Runs `each` over `items` with bounded concurrency; a cancelled run ends as CANCELLED. */
async function runAll<T>(
  items: readonly T[],
  options: TreeOptions,
  totalBytes: number,
  each: (item: T, signal: AbortSignal, advance: (bytes: number) => void) => Promise<void>,
): Promise<void> {
  const bar = options.progress?.(totalBytes);
  let done = 0;
  const advance = (bytes: number) => {
    done += bytes;
    bar?.update(done);
  };
  try {
    await mapBounded(items, options.concurrency, (item, _i, signal) => each(item, signal, advance), {
      signal: options.signal,
    });
  } catch (err) {
    if (options.signal.aborted)
      throw new StorageError("CANCELLED", "The operation was cancelled.", {}, { cause: err });
    throw err;
  } finally {
    bar?.finish();
  }
}

/** A file's progress callback that feeds the run's bar by differences. */
function tracker(advance: (bytes: number) => void) {
  let reported = 0;
  return {
    onProgress: (bytes: number) => {
      advance(bytes - reported);
      reported = bytes;
    },
    /** Moves the bar to the end of this file, whatever happened to it. */
    settle: (size: number) => {
      advance(size - reported);
      reported = size;
    },
  };
}

function recordFailure(
  summary: TreeSummary,
  signal: AbortSignal,
  failure: Omit<TreeFailure, "code" | "message">,
  err: unknown,
) {
  if (signal.aborted) throw err; // cancelled: not this file's failure
  const error = asStorageError(err);
  summary.failed++;
  summary.failures.push({ ...failure, code: error.code, message: error.message });
}

export async function uploadTree(
  api: StorageApi,
  dir: string,
  place: RemotePlace,
  options: TreeOptions,
): Promise<TreeSummary> {
  const files = await localFiles(dir);
  const existing = new Map<string, ObjectSummary>();
  if (options.skipMatching) for (const o of await remoteObjects(api, place)) existing.set(o.key, o);
  const summary = newSummary("upload", dir, describePlace(place));
  summary.files = files.length;
  const total = files.reduce((n, f) => n + f.size, 0);
  await runAll(files, options, total, async (file, signal, advance) => {
    const key = place.prefix + file.rel;
    const progress = tracker(advance);
    try {
      const remote = existing.get(key);
      let sha256: string | undefined;
      // Only a same-sized object can match, so only then is the file read twice.
      if (remote && remote.size === file.size) {
        sha256 = await sha256File(file.path, signal);
        if (sha256 === remote.sha256) {
          summary.skipped++;
          return;
        }
      }
      const info = await api.put({
        file: file.path,
        bucket: place.bucket,
        key,
        metadata: {},
        owner: options.owner,
        signal,
        onProgress: progress.onProgress,
        // The hash just computed travels along: the service refuses bytes that changed on the way.
        ...(sha256 ? { expectedSha256: sha256 } : {}),
      });
      summary.uploaded++;
      summary.bytes += info.size;
    } catch (err) {
      recordFailure(summary, signal, { path: file.path, key }, err);
    } finally {
      progress.settle(file.size);
    }
  });
  return summary;
}

export async function downloadTree(
  api: StorageApi,
  place: RemotePlace,
  dir: string,
  options: TreeOptions,
): Promise<TreeSummary> {
  const objects = await remoteObjects(api, place);
  const summary = newSummary("download", describePlace(place), dir);
  summary.files = objects.length;
  const total = objects.reduce((n, o) => n + o.size, 0);
  await runAll(objects, options, total, async (object, signal, advance) => {
    const progress = tracker(advance);
    let target = "";
    try {
      const local = localPathFor(dir, object.key.slice(place.prefix.length));
      if (!local) {
        summary.skipped++; // a folder marker: the folder is made for the files inside it
        return;
      }
      target = local;
      if (options.skipMatching) {
        const existing = await stat(local).catch(() => undefined);
        if (
          existing?.isFile() &&
          existing.size === object.size &&
          (await sha256File(local, signal)) === object.sha256
        ) {
          summary.skipped++;
          return;
        }
      }
      await mkdir(path.dirname(local), { recursive: true });
      const download = await api.get(place.bucket, object.key, { signal });
      // Awaited before adding: `summary.bytes += await ...` would add to a value read before the wait.
      const written = await writeFileAtomically(download.body, local, {
        signal,
        onProgress: progress.onProgress,
      });
      summary.bytes += written;
      summary.downloaded++;
    } catch (err) {
      recordFailure(summary, signal, { path: target, key: object.key }, err);
    } finally {
      progress.settle(object.size);
    }
  });
  return summary;
}
