import { constants } from "node:fs";
import type { FileHandle } from "node:fs/promises";
import { access, mkdir, open, readdir, rm, stat } from "node:fs/promises";
import path from "node:path";
import { addAbortSignal, type Readable } from "node:stream";
import { StorageError } from "../../errors.ts";
import { ensurePrivateDir, PRIVATE_DIR_MODE } from "../../private-fs.ts";
import {
  type CopyOptions,
  type CustomerKeyOption,
  type CustomerKeySupport,
  type DeleteManyOutcome,
  type DeleteOptions,
  type DeleteResult,
  type GetOptions,
  type GetResult,
  type IncompleteUpload,
  type ListOptions,
  type ListPage,
  NULL_VERSION,
  type ObjectHead,
  type ObjectStore,
  type PresignOptions,
  type PutOptions,
  type PutResult,
} from "../object-store.ts";
import { fromFsError, fsCode, isMissing, notFound } from "./fs-errors.ts";
import { KeyedLock } from "./keyed-lock.ts";
import { assertLocalKey, Layout, META_FILE } from "./layout.ts";
import { paginate, readAllMeta } from "./listing.ts";
import { type ObjectMeta, readMeta } from "./meta-file.ts";
import { rangeWithin } from "./range.ts";
import { commitStaged, removeObject, stageToTemp } from "./write-path.ts";

/** No SSE-C here: a customer key is refused rather than ignored (the bytes would sit unencrypted). */
function refuseCustomerKey(options: CustomerKeyOption | undefined, context: { bucket: string; key: string }) {
  if (options?.sseCustomerKey) {
    throw new StorageError(
      "UNSUPPORTED_OPERATION",
      "The local storage backend does not support customer-provided keys (SSE-C).",
      { ...context, sseCustomerKey: "unsupported" },
    );
  }
}

// Leftover temp files older than this (from a crash) are removed when the store starts.
const STALE_TMP_MS = 24 * 60 * 60 * 1000;

/**
 * Blobs on a local filesystem (see layout.ts for the on-disk shape). Writes stream into a temp file
 * and become visible only through renames after the stream ended cleanly; readers always see a whole
 * old or a whole new object. No versioning, no presigning.
 */
export class LocalStore implements ObjectStore {
  readonly kind = "local" as const;
  readonly capabilities = { presign: false, versioning: false };
  /** Bytes go straight to a temp file: a stream buffer's worth at a time. */
  readonly uploadBufferBytes = 1024 * 1024;
  readonly uploadPartBytes = 1024 * 1024;
  readonly #layout: Layout;
  readonly #locks = new KeyedLock();
  #ready: Promise<void> | undefined;

  constructor(root: string) {
    this.#layout = new Layout(root);
  }

  /** Creates the root and temp dir (idempotent) and sweeps stale temp files. Called lazily. */
  init(): Promise<void> {
    this.#ready ??= (async () => {
      // Objects are user data: the root is 0700 (tightened if it exists), everything below private.
      await ensurePrivateDir(this.#layout.root);
      await mkdir(this.#layout.tmpDir, { recursive: true, mode: PRIVATE_DIR_MODE });
      await this.#sweepTmp().catch(() => {});
    })().catch((err) => {
      this.#ready = undefined;
      throw fromFsError(err);
    });
    return this.#ready;
  }

  async customerKeySupport(): Promise<CustomerKeySupport> {
    return "unsupported";
  }

  async ping(signal?: AbortSignal): Promise<void> {
    signal?.throwIfAborted();
    try {
      await this.init();
      await access(this.#layout.root, constants.R_OK | constants.W_OK);
    } catch (err) {
      throw new StorageError("UNAVAILABLE", "The local storage root is not accessible.", {}, { cause: err });
    }
  }

  async bucketExists(bucket: string): Promise<boolean> {
    const dir = this.#layout.bucketDir(bucket);
    try {
      return (await stat(dir)).isDirectory();
    } catch (err) {
      if (isMissing(err)) return false;
      throw fromFsError(err, { bucket });
    }
  }

  async createBucket(bucket: string): Promise<void> {
    const dir = this.#layout.bucketDir(bucket);
    await this.init();
    try {
      await mkdir(dir, { mode: PRIVATE_DIR_MODE });
    } catch (err) {
      if (fsCode(err) === "EEXIST")
        throw new StorageError("ALREADY_EXISTS", "The bucket already exists.", { bucket });
      throw fromFsError(err, { bucket });
    }
  }

  async put(bucket: string, key: string, body: Readable, options: PutOptions): Promise<PutResult> {
    refuseCustomerKey(options, { bucket, key });
    assertLocalKey(bucket, key);
    await this.#requireBucket(bucket);
    await this.init();
    const staged = await stageToTemp(this.#layout, body, { ...options, bucket, key });
    try {
      // Aborted after the last byte but before commit: the caller expects nothing to appear.
      options.signal?.throwIfAborted();
      await commitStaged(this.#layout, this.#locks, { bucket, key }, staged, options);
    } catch (err) {
      await rm(staged.tmp, { force: true }).catch(() => {});
      throw fromFsError(err, { bucket, key });
    }
    return { etag: staged.etag, versionId: NULL_VERSION };
  }

  async get(bucket: string, key: string, options: GetOptions = {}): Promise<GetResult> {
    refuseCustomerKey(options, { bucket, key });
    this.#checkVersion(bucket, key, options.versionId);
    const { meta, handle } = await this.#openData(bucket, key);
    try {
      const range = options.range ? rangeWithin(options.range, meta.size, { bucket, key }) : undefined;
      const head = this.#head(bucket, meta);
      // An empty file with no range must not get start/end (end: -1 would be invalid).
      const body = handle.createReadStream(range ? { start: range.start, end: range.end } : {});
      if (options.signal) addAbortSignal(options.signal, body);
      const contentLength = range ? range.end - range.start + 1 : meta.size;
      return range ? { head, contentLength, range, body } : { head, contentLength, body };
    } catch (err) {
      await handle.close().catch(() => {});
      throw fromFsError(err, { bucket, key });
    }
  }

  async head(
    bucket: string,
    key: string,
    versionId?: string,
    options?: CustomerKeyOption,
  ): Promise<ObjectHead> {
    refuseCustomerKey(options, { bucket, key });
    this.#checkVersion(bucket, key, versionId);
    return this.#head(bucket, await this.#meta(bucket, key));
  }

  async delete(
    bucket: string,
    key: string,
    versionId?: string,
    options: DeleteOptions = {},
  ): Promise<DeleteResult> {
    this.#checkVersion(bucket, key, versionId);
    await this.#requireBucket(bucket);
    try {
      await removeObject(this.#layout, this.#locks, bucket, key, options.ifMatch);
    } catch (err) {
      throw fromFsError(err, { bucket, key });
    }
    return { deleteMarker: false };
  }

  /** One delete per key (the local backend has no batch request; each is a rename under a lock). */
  async deleteMany(bucket: string, keys: readonly string[]): Promise<DeleteManyOutcome[]> {
    const outcomes: DeleteManyOutcome[] = [];
    for (const key of keys) {
      try {
        await this.delete(bucket, key);
        outcomes.push({ key, deleted: true, deleteMarker: false });
      } catch (err) {
        const error = fromFsError(err, { bucket, key });
        // Already gone counts as deleted, as S3's DeleteObjects reports it.
        if (error.code === "NOT_FOUND") outcomes.push({ key, deleted: true, deleteMarker: false });
        else outcomes.push({ key, deleted: false, error });
      }
    }
    return outcomes;
  }

  async list(bucket: string, options: ListOptions = {}): Promise<ListPage> {
    const dir = await this.#requireBucket(bucket);
    try {
      return paginate(await readAllMeta(dir), options);
    } catch (err) {
      throw fromFsError(err, { bucket });
    }
  }

  async copy(
    source: { bucket: string; key: string; versionId?: string } & CustomerKeyOption,
    target: { bucket: string; key: string } & CustomerKeyOption,
    options: CopyOptions = {},
  ): Promise<PutResult> {
    refuseCustomerKey(source, source);
    refuseCustomerKey(target, target);
    this.#checkVersion(source.bucket, source.key, source.versionId);
    assertLocalKey(target.bucket, target.key);
    await this.#requireBucket(target.bucket);
    await this.init();
    const { meta, handle } = await this.#openData(source.bucket, source.key);
    // The read stream owns the handle and closes it when pipeline finishes or fails.
    const staged = await stageToTemp(this.#layout, handle.createReadStream(), {
      ...target,
      ...(options.signal ? { signal: options.signal } : {}),
      ...(options.onProgress ? { onProgress: options.onProgress } : {}),
    }).catch((err: unknown) => {
      throw fromFsError(err, { bucket: target.bucket, key: target.key });
    });
    try {
      options.signal?.throwIfAborted();
      // The open descriptor pins the bytes that belong to `meta`, so a mismatch is real damage.
      if (staged.etag !== meta.etag || staged.size !== meta.size) {
        throw new StorageError("DATA_CORRUPTED", "Source object bytes do not match their etag.", {
          bucket: source.bucket,
          key: source.key,
        });
      }
      await commitStaged(this.#layout, this.#locks, target, staged, meta);
    } catch (err) {
      await rm(staged.tmp, { force: true }).catch(() => {});
      throw fromFsError(err, { bucket: target.bucket, key: target.key });
    }
    return { etag: staged.etag, versionId: NULL_VERSION };
  }

  async presign(_bucket: string, _key: string, _options: PresignOptions): Promise<string> {
    throw new StorageError(
      "UNSUPPORTED_OPERATION",
      "Presigned URLs need an S3-compatible backend (STORAGE_BACKEND=minio|s3|gcs).",
    );
  }

  async listIncompleteUploads(_bucket: string): Promise<IncompleteUpload[]> {
    return [];
  }

  async abortIncompleteUpload(_bucket: string, _upload: IncompleteUpload): Promise<void> {}

  async close(): Promise<void> {}

  // --- internals -------------------------------------------------------------------------------

  async #meta(bucket: string, key: string): Promise<ObjectMeta> {
    assertLocalKey(bucket, key);
    const { objectDir } = this.#layout.objectDirs(bucket, key);
    let meta: ObjectMeta | undefined;
    try {
      meta = await readMeta(path.join(objectDir, META_FILE));
    } catch (err) {
      throw fromFsError(err, { bucket, key });
    }
    if (!meta) throw notFound(bucket, key);
    if (meta.key !== key) {
      throw new StorageError("DATA_CORRUPTED", "Object metadata belongs to another key.", { bucket, key });
    }
    return meta;
  }

  /**
   * Opens the data file named by meta. A concurrent overwrite may unlink it between the two steps;
   * re-reading meta once then finds the new file.
   */
  async #openData(bucket: string, key: string): Promise<{ meta: ObjectMeta; handle: FileHandle }> {
    const { objectDir } = this.#layout.objectDirs(bucket, key);
    for (let attempt = 0; ; attempt++) {
      const meta = await this.#meta(bucket, key);
      try {
        return { meta, handle: await open(this.#layout.dataPath(objectDir, meta.dataFile), "r") };
      } catch (err) {
        if (!isMissing(err)) throw fromFsError(err, { bucket, key });
        if (attempt >= 1) throw notFound(bucket, key);
      }
    }
  }

  #head(bucket: string, meta: ObjectMeta): ObjectHead {
    return {
      bucket,
      key: meta.key,
      versionId: NULL_VERSION,
      size: meta.size,
      etag: meta.etag,
      contentType: meta.contentType,
      metadata: { ...meta.metadata },
      lastModified: new Date(meta.lastModified),
    };
  }

  #checkVersion(bucket: string, key: string, versionId: string | undefined): void {
    if (versionId !== undefined && versionId !== NULL_VERSION) {
      throw new StorageError("NOT_FOUND", "No such version: the local backend keeps no versions.", {
        bucket,
        key,
        versionId,
      });
    }
  }

  async #requireBucket(bucket: string): Promise<string> {
    const dir = this.#layout.bucketDir(bucket);
    if (!(await this.bucketExists(bucket))) throw notFound(bucket);
    return dir;
  }

  async #sweepTmp(): Promise<void> {
    const cutoff = Date.now() - STALE_TMP_MS;
    for (const name of await readdir(this.#layout.tmpDir)) {
      const file = this.#layout.tmpPath(name);
      const st = await stat(file).catch(() => undefined);
      if (st?.isFile() && st.mtimeMs < cutoff) await rm(file, { force: true }).catch(() => {});
    }
  }
}
