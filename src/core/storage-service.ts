import { createReadStream, createWriteStream } from "node:fs";
import { stat as fsStat, rename, rm } from "node:fs/promises";
import { pipeline } from "node:stream/promises";
import type { Logger } from "pino";
import {
  NULL_VERSION,
  type ObjectHead,
  type ObjectStore,
  type WriteCondition,
} from "../backends/object-store.ts";
import { conditionHolds, preconditionFailed } from "../backends/write-condition.ts";
import type { Config } from "../config/config.ts";
import type { Secret } from "../config/secret.ts";
import { asStorageError, isStorageError, StorageError } from "../errors.ts";
import type { MetadataRepository, ObjectRecord } from "../metadata/repository.ts";
import { Admission, type AdmissionStats, type Release } from "./admission.ts";
import { currentObject } from "./current-object.ts";
import { checkCustomerKey } from "./customer-key.ts";
import { executableScannerFor } from "./executable-scan.ts";
import { IngestGuard, VerifyingStream } from "./ingest.ts";
import { extensionOf, validateBucket, validateKey, validatePrefix } from "./keys.ts";
import { KnownBuckets } from "./known-buckets.ts";
import { peek } from "./peek.ts";
import type { HashOptions } from "./sha256.ts";
import { SNIFF_BYTES, sniffContent } from "./sniff.ts";
import type {
  CopySource,
  CopyTarget,
  CustomerKeyOptions,
  Download,
  DownloadOptions,
  ListRequest,
  ListResult,
  ObjectInfo,
  PresignedUrl,
  PresignRequest,
  StatOptions,
  UploadRequest,
} from "./types.ts";
import { checkExtension, checkUploadRequest } from "./upload-checks.ts";

export type StorageSettings = Pick<
  Config["storage"],
  "maxFileSize" | "allowedExtensions" | "extensionCheckedBuckets" | "presign" | "hashThread" | "admission"
>;

const MAX_LIST_LIMIT = 1000;

/** The owner recorded for bytes that reached the store around the service. */
const OUT_OF_BAND_OWNER = "out-of-band";

/** The retry hint of an upload refused by admission control: uploads finish in seconds, not minutes. */
const ADMISSION_RETRY_SECONDS = 2;

/** #failsEarly's "could not tell". */
const SKIP = Symbol("skip");

/** `{ sseCustomerKey }` only when there is one (exactOptionalPropertyTypes-friendly spreading). */
const keyOption = (key: Secret | undefined): CustomerKeyOptions => (key ? { sseCustomerKey: key } : {});

/**
 * A row describes a stored object only while they agree on its ETag and size. Another ETag means
 * the key was written around the service (a presigned PUT, a direct S3 write), even when the size
 * is the same: the row's sha256 is then about bytes that are gone, and is re-derived, never served.
 */
const describes = (record: ObjectRecord | undefined, head: ObjectHead): record is ObjectRecord =>
  record !== undefined && record.etag === head.etag && record.size === head.size;

const toInfo = (head: ObjectHead, record: ObjectRecord | undefined): ObjectInfo => ({
  bucket: head.bucket,
  key: head.key,
  versionId: head.versionId,
  size: head.size,
  etag: head.etag,
  contentType: head.contentType,
  metadata: head.metadata,
  lastModified: head.lastModified,
  ...(describes(record, head) ? { sha256: record.sha256, owner: record.owner } : {}),
  ...(head.encryption ? { encryption: head.encryption } : {}),
});

const sseC = (key: Secret | undefined) => (key ? { encryption: "SSE-C" as const } : {});

/**
 * The storage core: validates every request, streams bytes to the backend while hashing them,
 * then records the version in the metadata index. The object is written first and the row second;
 * if the row cannot be written the object is removed again, so callers never see one without the other.
 */
export class StorageService {
  readonly store: ObjectStore;
  readonly index: MetadataRepository;
  readonly #settings: StorageSettings;
  readonly #log: Logger;
  readonly #buckets: KnownBuckets;
  readonly #hashing: HashOptions;
  readonly #admission: Admission;
  #rederived = 0;

  constructor(deps: {
    store: ObjectStore;
    index: MetadataRepository;
    settings: StorageSettings;
    logger: Logger;
  }) {
    this.store = deps.store;
    this.index = deps.index;
    this.#settings = deps.settings;
    this.#hashing = { thread: deps.settings.hashThread };
    this.#log = deps.logger;
    this.#buckets = new KnownBuckets(deps.store);
    this.#admission = new Admission({
      ...deps.settings.admission,
      retryAfterSeconds: ADMISSION_RETRY_SECONDS,
    });
  }

  /** Uploads running and bytes they may buffer now, and uploads refused so far (for metrics). */
  get admission(): AdmissionStats {
    return this.#admission.stats;
  }

  /**
   * Admission first (core/admission.ts): an upload reserves the memory its backend may buffer for
   * it (less for a body of known, smaller size) or is refused with OVERLOADED before a byte is read.
   */
  async upload(req: UploadRequest): Promise<ObjectInfo> {
    let release: Release;
    try {
      release = this.#admission.admit(
        Math.min(req.expectedSize ?? Number.POSITIVE_INFINITY, this.store.uploadBufferBytes),
      );
    } catch (err) {
      req.body.destroy();
      throw err;
    }
    try {
      return await this.#upload(req);
    } finally {
      release();
    }
  }

  async #upload(req: UploadRequest): Promise<ObjectInfo> {
    const { bucket, key, metadata, extension, condition } = checkUploadRequest(req, this.#settings);
    const { maxFileSize } = this.#settings;
    await this.#checkCustomerKey(req.sseCustomerKey, { bucket, key });
    if (!(await this.#buckets.exists(bucket))) {
      req.body.destroy();
      throw new StorageError("NOT_FOUND", `Bucket '${bucket}' does not exist.`, { bucket });
    }
    if (condition) {
      const refused = await this.#failsEarly(bucket, key, condition, req.sseCustomerKey);
      if (refused) {
        req.body.destroy();
        throw refused;
      }
    }

    const { head, stream } = await peek(req.body, SNIFF_BYTES);
    let contentType: string;
    try {
      contentType = await sniffContent({ head, extension, declaredType: req.contentType });
    } catch (err) {
      stream.destroy();
      throw err;
    }
    // The sniffer judged the first bytes; the scanner looks further (start and end windows) for
    // executables hidden behind them, and fails the stream before the backend commits.
    const guard = new IngestGuard(
      { maxBytes: maxFileSize, expectedSize: req.expectedSize, expectedSha256: req.expectedSha256 },
      executableScannerFor(extension),
      this.#hashing,
    );
    const piping = pipeline(stream, guard, { signal: req.signal }).catch(() => {});
    let stored: { etag: string; versionId: string };
    try {
      stored = await this.store.put(bucket, key, guard, {
        contentType,
        metadata,
        signal: req.signal,
        onProgress: req.onProgress,
        ...keyOption(req.sseCustomerKey),
        ...(condition ? { condition } : {}),
      });
    } catch (err) {
      stream.destroy();
      await piping;
      const failure = asStorageError(err);
      if (failure.code === "NOT_FOUND") this.#buckets.forget(bucket);
      throw failure;
    }
    await piping;
    if (req.signal?.aborted) {
      // The caller gave up while the object was being committed (HTTP/2 can report a clean end of
      // the body just before the reset): take the new version back, as if it had never arrived.
      await this.#discard({ bucket, key, ...stored }, keyOption(req.sseCustomerKey));
      throw new StorageError("CANCELLED", "The upload was cancelled.", { bucket, key });
    }
    const record = {
      bucket,
      key,
      versionId: stored.versionId,
      size: guard.bytes,
      sha256: guard.sha256,
      etag: stored.etag,
      contentType,
      metadata,
      owner: req.owner ?? "anonymous",
    };
    await this.#recordOrCompensate(record, keyOption(req.sseCustomerKey));
    return { ...record, lastModified: new Date(), ...sseC(req.sseCustomerKey) };
  }

  async uploadFile(path: string, req: Omit<UploadRequest, "body">): Promise<ObjectInfo> {
    const size = await fsStat(path).then(
      (s) => s.size,
      (err) => {
        throw new StorageError("INVALID_ARGUMENT", `Cannot read ${path}: ${(err as Error).message}`, {
          field: "path",
        });
      },
    );
    return this.upload({
      ...req,
      body: createReadStream(path, { highWaterMark: 1024 * 1024 }),
      expectedSize: size,
    });
  }

  async download(bucket: string, key: string, options: DownloadOptions = {}): Promise<Download> {
    validateBucket(bucket);
    const k = validateKey(key);
    const range = options.range;
    if (
      range &&
      (!Number.isSafeInteger(range.start) ||
        range.start < 0 ||
        (range.end !== undefined && range.end < range.start))
    ) {
      throw new StorageError("RANGE_NOT_SATISFIABLE", "The byte range must satisfy 0 <= start <= end.", {
        field: "range",
      });
    }
    await this.#checkCustomerKey(options.sseCustomerKey, { bucket, key: k });
    const got = await this.store.get(bucket, k, options);
    const record = await this.index.find(bucket, k, got.head.versionId).catch((err) => {
      got.body.destroy();
      throw err;
    });
    const info = toInfo(got.head, record);
    let body = got.body;
    if (!got.range && info.sha256) {
      const verifier = new VerifyingStream(
        { sha256: info.sha256, size: info.size, bucket, key: k },
        this.#hashing,
      );
      body = got.body.pipe(verifier);
      got.body.once("error", (err) => verifier.destroy(err));
      verifier.once("close", () => got.body.destroy());
    } else if (!got.range && record) {
      // The row is stale (an out-of-band write): nothing to verify against, so hash what is served
      // and record it once the whole object has passed.
      const guard = new IngestGuard({ maxBytes: Number.MAX_SAFE_INTEGER }, undefined, this.#hashing);
      body = got.body.pipe(guard);
      got.body.once("error", (err) => guard.destroy(err));
      guard.once("close", () => got.body.destroy());
      guard.once("end", () => {
        if (guard.bytes !== got.head.size) return;
        void this.#rederive(got.head, guard.sha256, keyOption(options.sseCustomerKey));
      });
    }
    return { info, contentLength: got.contentLength, ...(got.range ? { range: got.range } : {}), body };
  }

  /** Downloads to a file atomically: a temp file beside the target is renamed only after a verified read. */
  async downloadToFile(
    bucket: string,
    key: string,
    path: string,
    options: DownloadOptions = {},
  ): Promise<ObjectInfo> {
    const download = await this.download(bucket, key, options);
    const temp = `${path}.partial-${process.pid}-${Date.now()}`;
    try {
      await pipeline(download.body, createWriteStream(temp), { signal: options.signal });
      await rename(temp, path);
    } catch (err) {
      await rm(temp, { force: true });
      throw asStorageError(err);
    }
    return download.info;
  }

  async stat(
    bucket: string,
    key: string,
    versionId?: string,
    options: StatOptions = {},
  ): Promise<ObjectInfo> {
    validateBucket(bucket);
    const k = validateKey(key);
    await this.#checkCustomerKey(options.sseCustomerKey, { bucket, key: k });
    const keys = keyOption(options.sseCustomerKey);
    const head = await this.store.head(bucket, k, versionId, keys);
    const record = await this.index.find(bucket, k, head.versionId);
    if (!record || describes(record, head)) return toInfo(head, record);
    const sha256 = await this.hashObject(bucket, k, head.versionId, keys);
    await this.#rederive(head, sha256, keys);
    return { ...toInfo(head, undefined), sha256, owner: OUT_OF_BAND_OWNER };
  }

  async delete(
    bucket: string,
    key: string,
    versionId?: string,
  ): Promise<{ versionId?: string; deleteMarker: boolean }> {
    validateBucket(bucket);
    const k = validateKey(key);
    // NOT_FOUND for a missing object or version. An SSE-C object answers a HEAD without its key
    // with "key required": it exists, which is all this asks (deleting needs no key, as in S3).
    await this.store.head(bucket, k, versionId).catch((err: unknown) => {
      if (isStorageError(err) && err.details.sseCustomerKey === "required") return;
      throw err;
    });
    const result = await this.store.delete(bucket, k, versionId);
    if (versionId !== undefined) await this.index.removeVersion(bucket, k, versionId);
    else if (result.deleteMarker) await this.index.markDeleted(bucket, k);
    else await this.index.removeVersion(bucket, k, NULL_VERSION);
    return result;
  }

  async list(bucket: string, req: ListRequest = {}): Promise<ListResult> {
    validateBucket(bucket);
    const prefix = validatePrefix(req.prefix);
    const limit = req.limit ?? MAX_LIST_LIMIT;
    if (!Number.isSafeInteger(limit) || limit < 1 || limit > MAX_LIST_LIMIT) {
      throw new StorageError("INVALID_ARGUMENT", `The page size must be from 1 to ${MAX_LIST_LIMIT}.`, {
        field: "limit",
      });
    }
    if (!(await this.#buckets.exists(bucket))) {
      throw new StorageError("NOT_FOUND", `Bucket '${bucket}' does not exist.`, { bucket });
    }
    const page = await this.index.list(bucket, {
      prefix,
      limit,
      ...(req.recursive ? {} : { delimiter: "/" }),
      ...(req.cursor ? { cursor: req.cursor } : {}),
    });
    return {
      objects: page.objects.map((r) => ({
        key: r.key,
        versionId: r.versionId,
        size: r.size,
        etag: r.etag,
        sha256: r.sha256,
        contentType: r.contentType,
        lastModified: r.updatedAt,
      })),
      prefixes: page.prefixes,
      ...(page.nextCursor ? { nextCursor: page.nextCursor } : {}),
    };
  }

  async presign(bucket: string, key: string, req: PresignRequest): Promise<PresignedUrl> {
    validateBucket(bucket);
    const k = validateKey(key);
    const { defaultExpiry, maxExpiry } = this.#settings.presign;
    const expires = req.expiresInSeconds ?? defaultExpiry;
    if (!Number.isSafeInteger(expires) || expires < 1 || expires > maxExpiry) {
      throw new StorageError("INVALID_ARGUMENT", `The expiry must be from 1 to ${maxExpiry} seconds.`, {
        field: "expiresInSeconds",
        limit: maxExpiry,
      });
    }
    if (req.method === "PUT") checkExtension(this.#settings, bucket, extensionOf(k));
    else await this.store.head(bucket, k, req.versionId);
    const url = await this.store.presign(bucket, k, { ...req, expiresInSeconds: expires });
    return { url, method: req.method, expiresAt: new Date(Date.now() + expires * 1000) };
  }

  /**
   * Server-side copy. SSE-C: source.sseCustomerKey decrypts the source; the copy is encrypted with
   * target.sseCustomerKey, which defaults to the source's key, so a copy of an SSE-C object is never
   * silently stored in clear.
   */
  async copy(
    source: CopySource,
    target: CopyTarget,
    owner = "anonymous",
    options: { signal?: AbortSignal } = {},
  ): Promise<ObjectInfo> {
    validateBucket(source.bucket);
    validateBucket(target.bucket);
    const src = {
      bucket: source.bucket,
      key: validateKey(source.key, "sourceKey"),
      ...(source.versionId !== undefined ? { versionId: source.versionId } : {}),
    };
    const dst = { bucket: target.bucket, key: validateKey(target.key) };
    checkExtension(this.#settings, dst.bucket, extensionOf(dst.key));
    const sourceKey = keyOption(source.sseCustomerKey);
    const targetKey = keyOption(target.sseCustomerKey ?? source.sseCustomerKey);
    await this.#checkCustomerKey(sourceKey.sseCustomerKey, src);
    await this.#checkCustomerKey(targetKey.sseCustomerKey, dst);
    const head = await this.store.head(src.bucket, src.key, src.versionId, sourceKey);
    const sourceRecord = await this.index.find(src.bucket, src.key, head.versionId);
    // Never carry a hash that does not describe the source's current bytes (its ETag says).
    let sha256: string;
    if (describes(sourceRecord, head)) sha256 = sourceRecord.sha256;
    else {
      sha256 = await this.hashObject(src.bucket, src.key, head.versionId, sourceKey);
      if (sourceRecord) await this.#rederive(head, sha256, sourceKey);
    }
    // The HEAD above pins the version: the store copies exactly the bytes whose sha256 is recorded.
    const stored = await this.store.copy(
      { ...src, ...sourceKey },
      { ...dst, ...targetKey },
      {
        sourceHead: head,
        ...(options.signal ? { signal: options.signal } : {}),
      },
    );
    if (options.signal?.aborted) {
      await this.#discard({ ...dst, ...stored }, targetKey);
      throw new StorageError("CANCELLED", "The copy was cancelled.", dst);
    }
    const record = {
      ...dst,
      versionId: stored.versionId,
      size: head.size,
      sha256,
      etag: stored.etag,
      contentType: head.contentType,
      metadata: head.metadata,
      owner,
    };
    await this.#recordOrCompensate(record, targetKey);
    return { ...record, lastModified: new Date(), ...sseC(targetKey.sseCustomerKey) };
  }

  /** sha256 of a stored object, by reading it (for objects that reached the store around the service). */
  async hashObject(
    bucket: string,
    key: string,
    versionId?: string,
    options: CustomerKeyOptions = {},
  ): Promise<string> {
    const got = await this.store.get(bucket, key, { versionId, ...keyOption(options.sseCustomerKey) });
    const guard = new IngestGuard({ maxBytes: Number.MAX_SAFE_INTEGER }, undefined, this.#hashing);
    await pipeline(got.body, guard, async (source) => {
      for await (const _ of source);
    });
    return guard.sha256;
  }

  /**
   * A condition that already fails, found with one HEAD before any byte is read, so a doomed upload
   * is refused at once instead of after its whole body. Only a shortcut: the store evaluates the
   * condition again, atomically, when the object becomes visible. A HEAD that fails for another
   * reason (an SSE-C object without its key, a hiccup) leaves the decision to the store.
   */
  async #failsEarly(
    bucket: string,
    key: string,
    condition: WriteCondition,
    sseCustomerKey: Secret | undefined,
  ): Promise<StorageError | undefined> {
    const current = await this.store.head(bucket, key, undefined, keyOption(sseCustomerKey)).then(
      (head) => head.etag,
      (err: unknown) => (isStorageError(err) && err.code === "NOT_FOUND" ? undefined : SKIP),
    );
    if (current === SKIP || conditionHolds(condition, current)) return undefined;
    return preconditionFailed(condition, { bucket, key });
  }

  /** SSE-C keys are checked, and refused where the store cannot take them, before any byte moves. */
  async #checkCustomerKey(key: Secret | undefined, context: { bucket: string; key: string }): Promise<void> {
    if (key === undefined) return;
    checkCustomerKey(key, await this.store.customerKeySupport(), context);
  }

  /** `keys` opens the new object, so the index can ask the store whether it is still the current one. */
  async #recordOrCompensate(
    record: Omit<ObjectRecord, "isLatest" | "createdAt" | "updatedAt">,
    keys: CustomerKeyOptions,
  ): Promise<void> {
    try {
      await this.index.recordVersion(record, currentObject(this.store, record.bucket, record.key, keys));
    } catch (err) {
      await this.#discard(record, keys);
      throw asStorageError(err, "UNAVAILABLE");
    }
  }

  /**
   * Takes back exactly what one write stored, and nothing else, with the index following:
   * - a versioned write: its own version id (the previous version becomes current again);
   * - an unversioned one ("null"): only while the key still holds this write's ETag (a conditional
   *   delete), since a concurrent writer may have replaced it; then a "null" row that no longer
   *   describes the store is dropped, under the key's index lock.
   * Used when a write's row cannot be recorded, when its caller cancelled after the commit, and by
   * a multipart form rolling back the files it stored.
   */
  async withdraw(
    stored: { bucket: string; key: string; versionId: string; etag: string },
    keys: CustomerKeyOptions = {},
  ): Promise<void> {
    const { bucket, key, versionId, etag } = stored;
    if (versionId !== NULL_VERSION) {
      await this.store.delete(bucket, key, versionId);
      await this.index.removeVersion(bucket, key, versionId);
      return;
    }
    await this.store.delete(bucket, key, undefined, { ifMatch: etag }).catch((err: unknown) => {
      // Another writer's object is current now: it is theirs to keep.
      if (!(isStorageError(err) && err.code === "PRECONDITION_FAILED")) throw err;
    });
    await this.index.dropStaleNullVersion(bucket, key, currentObject(this.store, bucket, key, keys));
  }

  /**
   * Records what an out-of-band write left under a key (its sha256 just hashed from the store), in
   * place of the stale row. Counted and logged, never an error for the reader: the index follows
   * the store, through the same locked path as any write.
   */
  async #rederive(head: ObjectHead, sha256: string, keys: CustomerKeyOptions): Promise<void> {
    this.#rederived++;
    this.#log.warn(
      { bucket: head.bucket, key: head.key, versionId: head.versionId },
      "index row did not match the stored object (written around the service): sha256 re-derived",
    );
    await this.index
      .recordVersion(
        {
          bucket: head.bucket,
          key: head.key,
          versionId: head.versionId,
          size: head.size,
          sha256,
          etag: head.etag,
          contentType: head.contentType,
          metadata: head.metadata,
          owner: OUT_OF_BAND_OWNER,
        },
        currentObject(this.store, head.bucket, head.key, keys),
      )
      .catch((err: unknown) => {
        this.#log.error({ err, bucket: head.bucket, key: head.key }, "re-deriving a stale index row failed");
      });
  }

  /** Stale index rows re-derived since start (for metrics). */
  get rederivedRows(): number {
    return this.#rederived;
  }

  /** withdraw() for a write that failed or was cancelled: failures are logged and left to `reconcile`. */
  async #discard(
    stored: { bucket: string; key: string; versionId: string; etag: string },
    keys: CustomerKeyOptions,
  ): Promise<void> {
    await this.withdraw(stored, keys).catch((err) => {
      this.#log.error(
        { err, bucket: stored.bucket, key: stored.key },
        "compensation failed: object stored without index row; `reconcile` will repair it",
      );
    });
  }
}
