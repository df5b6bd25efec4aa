import { createHash, randomUUID } from "node:crypto";
import { createWriteStream } from "node:fs";
import { mkdir, readdir, rename, rm, rmdir, unlink } from "node:fs/promises";
import path from "node:path";
import type { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { StorageError } from "../../errors.ts";
import { PRIVATE_DIR_MODE, PRIVATE_FILE_MODE } from "../../private-fs.ts";
import { conditionHolds, preconditionFailed, type WriteCondition } from "../write-condition.ts";
import { fromFsError, fsCode, isMissing, notFound } from "./fs-errors.ts";
import type { KeyedLock } from "./keyed-lock.ts";
import { DATA_FILE_RE, type Layout, META_FILE } from "./layout.ts";
import { type ObjectMeta, readMeta, writeMetaAtomic } from "./meta-file.ts";

/** A fully received body sitting in the temp dir, not yet visible. */
export interface Staged {
  tmp: string;
  size: number;
  /** md5 hex in quotes, like S3's etag for single-part uploads. */
  etag: string;
}

/**
 * Streams `body` into a fresh temp file, hashing and counting as chunks pass. pipeline() gives
 * backpressure and tears every stream down on error or abort, after which the temp file is removed;
 * nothing outside the temp dir is touched here.
 */
export async function stageToTemp(
  layout: Layout,
  body: Readable,
  options: { signal?: AbortSignal; onProgress?: (bytes: number) => void; bucket: string; key: string },
): Promise<Staged> {
  const tmp = layout.tmpPath(`${randomUUID()}.part`);
  const md5 = createHash("md5");
  let size = 0;
  async function* measure(source: AsyncIterable<Buffer | string>) {
    for await (const chunk of source) {
      const buf = typeof chunk === "string" ? Buffer.from(chunk) : chunk;
      md5.update(buf);
      size += buf.length;
      options.onProgress?.(size);
      yield buf;
    }
  }
  // flush: fsync before close, so a committed object survives a power cut.
  const sink = createWriteStream(tmp, { flags: "wx", flush: true, mode: PRIVATE_FILE_MODE });
  try {
    await pipeline(body, measure, sink, options.signal ? { signal: options.signal } : {});
  } catch (err) {
    // pipeline can settle while the sink's open() is still in flight; removing the file before the
    // sink has closed would race with its creation and leak a temp file.
    sink.destroy();
    if (!sink.closed) await new Promise<void>((resolve) => sink.once("close", () => resolve()));
    await rm(tmp, { force: true }).catch(() => {});
    throw fromFsError(err, { bucket: options.bucket, key: options.key });
  }
  return { tmp, size, etag: `"${md5.digest("hex")}"` };
}

/**
 * Makes a staged file the object's bytes: rename the data in under a fresh name, atomically replace
 * meta.json (the switch readers see), then unlink the data file the old meta pointed to. Runs under
 * the object's lock so concurrent commits/deletes of one key cannot interleave.
 *
 * A condition is checked under that lock against the meta about to be replaced, so within this
 * process it is atomic with the switch. Across processes sharing a root only If-None-Match holds
 * (meta.json is linked in, which fails if it exists); If-Match there is check-then-rename.
 */
export async function commitStaged(
  layout: Layout,
  locks: KeyedLock,
  target: { bucket: string; key: string },
  staged: Staged,
  attrs: { contentType: string; metadata: Record<string, string>; condition?: WriteCondition | undefined },
): Promise<void> {
  const { bucket, key } = target;
  const { shardDir, objectDir } = layout.objectDirs(bucket, key);
  const { condition } = attrs;
  await locks.run(objectDir, async () => {
    const metaPath = path.join(objectDir, META_FILE);
    // Unreadable meta counts as no object: If-Match then fails, and If-None-Match's link() below
    // still refuses to replace the file.
    const previous = await readMeta(metaPath).catch(() => undefined);
    // Before any directory is made: a refused write leaves no trace.
    if (condition && !conditionHolds(condition, previous?.etag)) throw preconditionFailed(condition, target);
    // Not recursive: if the bucket dir vanished we must fail, not silently re-create it.
    for (const dir of [shardDir, objectDir]) {
      await mkdir(dir, { mode: PRIVATE_DIR_MODE }).catch((err) => {
        if (fsCode(err) === "EEXIST") return;
        throw isMissing(err) ? notFound(bucket) : err;
      });
    }
    const dataFile = `data-${randomUUID()}`;
    const dataPath = layout.dataPath(objectDir, dataFile);
    await rename(staged.tmp, dataPath);
    const meta: ObjectMeta = {
      key,
      size: staged.size,
      etag: staged.etag,
      contentType: attrs.contentType,
      metadata: attrs.metadata,
      lastModified: new Date().toISOString(),
      dataFile,
    };
    const exclusive = condition !== undefined && "ifNoneMatch" in condition;
    try {
      await writeMetaAtomic((name) => layout.tmpPath(name), metaPath, meta, { exclusive });
    } catch (err) {
      await rm(dataPath, { force: true }).catch(() => {});
      if (condition && fsCode(err) === "EEXIST") throw preconditionFailed(condition, target, err);
      throw err;
    }
    if (previous && previous.dataFile !== dataFile && DATA_FILE_RE.test(previous.dataFile)) {
      await unlink(layout.dataPath(objectDir, previous.dataFile)).catch(() => {});
    }
  });
}

/** Removes an object: meta first (it disappears at once), then every data file, then the dir. */
/**
 * Removes an object under its key's lock. With `ifMatch`, only while its ETag is that one (checked
 * under the same lock that commits serialise on, so no write can slip in between the check and the
 * removal within this process); a missing object or another ETag is PRECONDITION_FAILED.
 */
export async function removeObject(
  layout: Layout,
  locks: KeyedLock,
  bucket: string,
  key: string,
  ifMatch?: string,
) {
  const { objectDir } = layout.objectDirs(bucket, key);
  await locks.run(objectDir, async () => {
    if (ifMatch !== undefined) {
      const current = await readMeta(path.join(objectDir, META_FILE)).catch(() => undefined);
      if (current?.etag !== ifMatch) {
        throw new StorageError(
          "PRECONDITION_FAILED",
          "The object is no longer the one this delete was for.",
          {
            bucket,
            key,
            condition: "if-match",
          },
        );
      }
    }
    await unlink(path.join(objectDir, META_FILE)).catch(ignoreMissing);
    // Every data-* file, so crash leftovers go too; the lock keeps in-flight commits out.
    const names = await readdir(objectDir).catch((err) => (isMissing(err) ? [] : Promise.reject(err)));
    for (const name of names) {
      if (DATA_FILE_RE.test(name)) await unlink(layout.dataPath(objectDir, name)).catch(ignoreMissing);
    }
    await rmdir(objectDir).catch((err) => {
      if (!isMissing(err) && fsCode(err) !== "ENOTEMPTY") throw err;
    });
  });
}

const ignoreMissing = (err: unknown): void => {
  if (!isMissing(err)) throw err;
};
