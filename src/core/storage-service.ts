import type { Logger } from "pino";
import type { ListedObject, ObjectStore } from "../backends/object-store.ts";
import type { Database } from "../metadata/database.ts";
import type { MetadataRepository } from "../metadata/repository.ts";
import { UploadSessionTable } from "../metadata/upload-sessions.ts";
import { Admission, type AdmissionStats } from "./admission.ts";
import type { CoreContext, StorageSettings } from "./core-context.ts";
import { type DeletePrefixOptions, type DeletePrefixResult, deleteByPrefix } from "./delete-prefix.ts";
import { downloadIntoFile, uploadFromFile } from "./files.ts";
import { IndexSync, type StoredVersion } from "./index-sync.ts";
import { KnownBuckets } from "./known-buckets.ts";
import { ReadPath } from "./read-path.ts";
import { type BucketReport, type ReconcileOptions, reconcileBucket, storeObjects } from "./reconcile.ts";
import { sizeLimitFor } from "./size-limits.ts";
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
import { UploadSessions } from "./upload-sessions.ts";
import { WritePath } from "./write-path.ts";

export type { StorageSettings } from "./core-context.ts";

/** The retry hint of an upload refused by admission control: uploads finish in seconds, not minutes. */
const ADMISSION_RETRY_SECONDS = 2;

/**
 * The storage core, the one door to the object store and the metadata index: validates every
 * request, streams bytes to the backend while hashing them, then records the version in the index
 * (write-path.ts); verifies what it reads (read-path.ts); keeps rows following the store
 * (index-sync.ts). The store and the index are private: reconcile and delete-by-prefix run through
 * here too, so nothing above the core can write one without the other.
 */
export class StorageService {
  readonly #core: CoreContext;
  readonly #sync: IndexSync;
  readonly #reads: ReadPath;
  readonly #writes: WritePath;
  readonly #admission: Admission;
  /** Resumable uploads straight to the object store (upload-sessions.ts); S3 backends only. */
  readonly sessions: UploadSessions;

  constructor(deps: {
    store: ObjectStore;
    index: MetadataRepository;
    settings: StorageSettings;
    logger: Logger;
    /** The metadata database, for upload sessions' own table (without it they are unsupported). */
    db?: Database;
  }) {
    this.#core = {
      store: deps.store,
      index: deps.index,
      settings: deps.settings,
      log: deps.logger,
      buckets: new KnownBuckets(deps.store),
      hashing: { thread: deps.settings.hashThread },
    };
    this.#admission = new Admission({
      ...deps.settings.admission,
      retryAfterSeconds: ADMISSION_RETRY_SECONDS,
    });
    this.#sync = new IndexSync(this.#core);
    this.#reads = new ReadPath(this.#core, this.#sync);
    this.#writes = new WritePath(this.#core, {
      sync: this.#sync,
      admission: this.#admission,
      reads: this.#reads,
    });
    this.sessions = new UploadSessions(this.#core, {
      sync: this.#sync,
      table: deps.db ? new UploadSessionTable(deps.db) : undefined,
    });
  }

  /** The largest object a bucket accepts (its own limit, else STORAGE_MAX_FILE_SIZE). */
  maxFileSize(bucket: string): number {
    return sizeLimitFor(this.#core.settings, bucket).bytes;
  }

  /** Uploads running and bytes they may buffer now, and uploads refused so far (for metrics). */
  get admission(): AdmissionStats {
    return this.#admission.stats;
  }

  /** Stale index rows re-derived since start (for metrics). */
  get rederivedRows(): number {
    return this.#sync.rederived;
  }

  upload(req: UploadRequest): Promise<ObjectInfo> {
    return this.#writes.upload(req);
  }

  uploadFile(path: string, req: Omit<UploadRequest, "body">): Promise<ObjectInfo> {
    return uploadFromFile((r) => this.upload(r), path, req);
  }

  download(bucket: string, key: string, options: DownloadOptions = {}): Promise<Download> {
    return this.#reads.download(bucket, key, options);
  }

  /** Downloads to a file atomically: a temp file beside the target is renamed only after a verified read. */
  downloadToFile(
    bucket: string,
    key: string,
    path: string,
    options: DownloadOptions = {},
  ): Promise<ObjectInfo> {
    return downloadIntoFile(this.download(bucket, key, options), path, options.signal);
  }

  stat(bucket: string, key: string, versionId?: string, options: StatOptions = {}): Promise<ObjectInfo> {
    return this.#reads.stat(bucket, key, versionId, options);
  }

  delete(
    bucket: string,
    key: string,
    versionId?: string,
  ): Promise<{ versionId?: string; deleteMarker: boolean }> {
    return this.#writes.delete(bucket, key, versionId);
  }

  list(bucket: string, req: ListRequest = {}): Promise<ListResult> {
    return this.#reads.list(bucket, req);
  }

  presign(bucket: string, key: string, req: PresignRequest): Promise<PresignedUrl> {
    return this.#reads.presign(bucket, key, req);
  }

  copy(
    source: CopySource,
    target: CopyTarget,
    owner = "anonymous",
    options: { signal?: AbortSignal } = {},
  ): Promise<ObjectInfo> {
    return this.#writes.copy(source, target, owner, options);
  }

  /** sha256 of a stored object, by reading it (for objects that reached the store around the service). */
  hashObject(
    bucket: string,
    key: string,
    versionId?: string,
    options: CustomerKeyOptions = {},
  ): Promise<string> {
    return this.#reads.hashObject(bucket, key, versionId, options);
  }

  /** Takes back exactly what one write stored (see IndexSync.withdraw). */
  withdraw(stored: StoredVersion, keys: CustomerKeyOptions = {}): Promise<void> {
    return this.#sync.withdraw(stored, keys);
  }

  bucketExists(bucket: string): Promise<boolean> {
    return this.#core.store.bucketExists(bucket);
  }

  /** Drift between the store and the index in one bucket, both ways, repaired on request (reconcile.ts). */
  async reconcile(bucket: string, options: ReconcileOptions): Promise<BucketReport> {
    // Expired upload sessions are aborted as sessions (their rows follow); live ones keep their
    // multipart uploads, however old, until their own expiry.
    if (options.repair) await this.sessions.sweep();
    const liveUploads = await this.sessions.openUploadIds(bucket);
    return reconcileBucket(this.#core, this.#reads, bucket, { ...options, liveUploads });
  }

  /**
   * The store's own listing of a bucket's current objects, in key order (read-only: for usage
   * checks that compare it with the index, as `stats --verify` does).
   */
  storeListing(bucket: string): AsyncGenerator<ListedObject> {
    return storeObjects(this.#core, bucket);
  }

  /** Deletes every current object under a prefix, in batches, with the index following (delete-prefix.ts). */
  deleteByPrefix(
    bucket: string,
    prefix: string | undefined,
    options: DeletePrefixOptions = {},
  ): Promise<DeletePrefixResult> {
    return deleteByPrefix({ store: this.#core.store, index: this.#core.index }, bucket, prefix, options);
  }
}
