import type { Readable } from "node:stream";

/**
 * The one interface every blob backend implements (S3-compatible and local filesystem). It moves
 * bytes and nothing else: validation, hashing, limits and the metadata index live in the core.
 * Every method throws StorageError (NOT_FOUND, UNAVAILABLE, ...), never a library's own error.
 *
 * Version ids: backends without versioning (local, unversioned buckets) use "null", as S3 does.
 */

export const NULL_VERSION = "null";

export interface ByteRange {
  /** First byte, inclusive. */
  start: number;
  /** Last byte, inclusive; omitted means to the end. */
  end?: number;
}

export interface PutOptions {
  contentType: string;
  metadata: Record<string, string>;
  signal?: AbortSignal;
  /** Called as bytes are handed to the backend (for progress). */
  onProgress?: (bytes: number) => void;
}

export interface PutResult {
  etag: string;
  versionId: string;
}

export interface ObjectHead {
  bucket: string;
  key: string;
  versionId: string;
  size: number;
  etag: string;
  contentType: string;
  metadata: Record<string, string>;
  lastModified: Date;
}

export interface GetOptions {
  versionId?: string;
  range?: ByteRange;
  signal?: AbortSignal;
}

export interface GetResult {
  head: ObjectHead;
  /** Bytes in this response (the range length for ranged reads). */
  contentLength: number;
  /** Present for ranged reads: the satisfied range. */
  range?: { start: number; end: number };
  body: Readable;
}

export interface ListedObject {
  key: string;
  size: number;
  etag: string;
  lastModified: Date;
}

export interface ListOptions {
  prefix?: string;
  /** Omit for a recursive listing. */
  delimiter?: string;
  /** Opaque token from a previous page's nextCursor. */
  cursor?: string;
  limit?: number;
}

export interface ListPage {
  objects: ListedObject[];
  prefixes: string[];
  nextCursor?: string;
}

export interface DeleteResult {
  versionId?: string;
  deleteMarker: boolean;
}

export interface PresignOptions {
  method: "GET" | "PUT";
  expiresInSeconds: number;
  versionId?: string;
  contentType?: string;
}

export interface IncompleteUpload {
  key: string;
  uploadId: string;
  initiated: Date;
}

export interface ObjectStore {
  readonly kind: "local" | "s3";
  readonly capabilities: { presign: boolean; versioning: boolean };

  /** Cheap reachability check for readiness probes. */
  ping(signal?: AbortSignal): Promise<void>;

  bucketExists(bucket: string): Promise<boolean>;
  createBucket(bucket: string): Promise<void>;

  /**
   * Stores the stream as one object. The object becomes visible only if the stream ends cleanly:
   * a stream error or abort leaves nothing behind (multipart parts are aborted, temp files removed).
   */
  put(bucket: string, key: string, body: Readable, options: PutOptions): Promise<PutResult>;
  get(bucket: string, key: string, options?: GetOptions): Promise<GetResult>;
  head(bucket: string, key: string, versionId?: string): Promise<ObjectHead>;
  delete(bucket: string, key: string, versionId?: string): Promise<DeleteResult>;
  list(bucket: string, options?: ListOptions): Promise<ListPage>;
  copy(
    source: { bucket: string; key: string; versionId?: string },
    target: { bucket: string; key: string },
  ): Promise<PutResult>;
  presign(bucket: string, key: string, options: PresignOptions): Promise<string>;

  /** Multipart uploads that were started and never completed or aborted (empty where not applicable). */
  listIncompleteUploads(bucket: string): Promise<IncompleteUpload[]>;
  abortIncompleteUpload(bucket: string, upload: IncompleteUpload): Promise<void>;

  close(): Promise<void>;
}
