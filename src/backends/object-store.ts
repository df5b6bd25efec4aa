import type { Readable } from "node:stream";
import type { Secret } from "../config/secret.ts";
import type { StorageError } from "../errors.ts";
import type { WriteCondition } from "./write-condition.ts";

export type { WriteCondition } from "./write-condition.ts";

/**
 * The one interface every blob backend implements (S3-compatible and local filesystem). It moves
 * bytes and nothing else: validation, hashing, limits and the metadata index live in the core.
 * Every method throws StorageError (NOT_FOUND, UNAVAILABLE, ...), never a library's own error.
 *
 * Version ids: backends without versioning (local, unversioned buckets) use "null", as S3 does.
 */

export const NULL_VERSION = "null";

/**
 * SSE-C (server-side encryption with a customer-provided key): the caller's AES-256 key, base64 of
 * exactly 32 bytes, inside a Secret so it never prints. It travels with each request and is never
 * stored: reading, stat-ing or copying the object needs the same key again. Backends send it only
 * over TLS and refuse it otherwise; the core checks `customerKeySupport()` first for a clear error.
 */
export interface CustomerKeyOption {
  sseCustomerKey?: Secret;
}

/** How SSE-C requests would reach the store: over TLS, in clear text (refused), or not at all. */
export type CustomerKeySupport = "tls" | "plaintext" | "unsupported";

/**
 * Why an SSE-C request failed, in StorageError `details.sseCustomerKey` (never the key itself):
 * required: the object is SSE-C encrypted and no key was sent (INVALID_ARGUMENT);
 * mismatch: the key is not the one the object was stored with (PERMISSION_DENIED);
 * not-applicable: a key was sent for an object that is not SSE-C encrypted (INVALID_ARGUMENT);
 * needs-tls: the store is reached over plain HTTP (PRECONDITION_FAILED);
 * unsupported: the backend has no SSE-C (UNSUPPORTED_OPERATION);
 * invalid: the key is not base64 of 32 bytes, or its MD5 does not match (INVALID_ARGUMENT).
 */
export type CustomerKeyFailure =
  | "required"
  | "mismatch"
  | "not-applicable"
  | "needs-tls"
  | "unsupported"
  | "invalid";

export interface ByteRange {
  /** First byte, inclusive. */
  start: number;
  /** Last byte, inclusive; omitted means to the end. */
  end?: number;
}

export interface PutOptions extends CustomerKeyOption {
  contentType: string;
  metadata: Record<string, string>;
  signal?: AbortSignal;
  /** Called as bytes are handed to the backend (for progress). */
  onProgress?: (bytes: number) => void;
  /**
   * Store only if this holds when the object would become visible; otherwise PRECONDITION_FAILED
   * and nothing is stored (no object, no parts, no temp file). See write-condition.ts.
   */
  condition?: WriteCondition;
}

export interface CopyOptions {
  /** Aborts a copy in progress (a multipart copy aborts its upload); nothing is left behind. */
  signal?: AbortSignal;
  /** The source's HEAD when the caller already has it (saves the store a second round trip). */
  sourceHead?: ObjectHead;
  /** Bytes copied so far (multipart copies report per part). */
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
  /** Set when the object is stored with SSE-C (its bytes can only be read with the caller's key). */
  encryption?: "SSE-C";
}

export interface GetOptions extends CustomerKeyOption {
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
  /** Start after this key (S3's StartAfter); a cursor, when given, wins. */
  startAfter?: string;
  limit?: number;
}

export interface ListPage {
  objects: ListedObject[];
  prefixes: string[];
  nextCursor?: string;
}

export interface DeleteOptions {
  /** Delete only while the current object has this ETag (unversioned compensation). */
  ifMatch?: string;
}

export interface DeleteResult {
  versionId?: string;
  deleteMarker: boolean;
}

/** One key's outcome in deleteMany(): deleted (a key already gone counts, as in S3), or why not. */
export type DeleteManyOutcome =
  | { key: string; deleted: true; deleteMarker: boolean }
  | { key: string; deleted: false; error: StorageError };

/** The most keys one deleteMany() takes (S3 DeleteObjects' limit). */
export const DELETE_MANY_MAX = 1000;

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

/** One part a multipart session's store holds. */
export interface StoredPart {
  partNumber: number;
  size: number;
  etag: string;
  /** Base64 sha256 of the part, as the store verified it. */
  checksumSha256?: string;
}

/** A presigned request for one part: the client sends exactly these headers (some are signed). */
export interface PresignedPart {
  url: string;
  headers: Record<string, string>;
}

/**
 * Client-driven multipart uploads (the upload sessions of core/upload-sessions.ts): the service
 * opens the upload and signs one URL per part; the client PUTs the parts straight to the store,
 * which verifies each part's sha256 (signed into its URL); the service completes the upload.
 */
export interface MultipartSessions {
  /** Opens a multipart upload whose parts must each carry a sha256; returns its upload id. */
  create(
    bucket: string,
    key: string,
    options: { contentType: string; metadata: Record<string, string> },
  ): Promise<string>;
  /** `sha256` (base64) is signed in: the store refuses a part whose body does not match it. */
  presignPart(
    target: { bucket: string; key: string; uploadId: string },
    part: { partNumber: number; sha256: string },
    expiresInSeconds: number,
  ): Promise<PresignedPart>;
  /** The parts the store holds, in part-number order; NOT_FOUND once the upload is completed or aborted. */
  listParts(target: { bucket: string; key: string; uploadId: string }): Promise<StoredPart[]>;
  complete(
    target: { bucket: string; key: string; uploadId: string },
    parts: StoredPart[],
  ): Promise<PutResult>;
  /** Aborts the upload and drops its parts; an upload already gone is not an error. */
  abort(target: { bucket: string; key: string; uploadId: string }): Promise<void>;
}

export interface ObjectStore {
  readonly kind: "local" | "s3";
  /** Present where clients can upload parts straight to the store (S3 backends); absent on local. */
  readonly multipartSessions?: MultipartSessions;
  readonly capabilities: { presign: boolean; versioning: boolean };
  /** The most memory one put() may hold at once (admission control reserves this per upload). */
  readonly uploadBufferBytes: number;
  /** What a put() of unknown size holds before it knows the body is large (one part). */
  readonly uploadPartBytes: number;

  /** Whether SSE-C can be used, checked by the core before any byte is sent. */
  customerKeySupport(): Promise<CustomerKeySupport>;

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
  head(bucket: string, key: string, versionId?: string, options?: CustomerKeyOption): Promise<ObjectHead>;
  /**
   * Deletes the object (or one version). With `ifMatch`, only while the current object has that
   * ETag: otherwise PRECONDITION_FAILED and nothing is deleted, so a writer taking back its own
   * object never removes another writer's (see DeleteOptions).
   */
  delete(bucket: string, key: string, versionId?: string, options?: DeleteOptions): Promise<DeleteResult>;
  /**
   * Deletes the current objects of up to DELETE_MANY_MAX keys, in one request where the store can
   * (S3 DeleteObjects), unconditionally (no ifMatch): one outcome per key. A request that fails as a
   * whole throws.
   */
  deleteMany(bucket: string, keys: readonly string[]): Promise<DeleteManyOutcome[]>;
  list(bucket: string, options?: ListOptions): Promise<ListPage>;
  /** Server-side copy; each side's key (SSE-C) is its own: the target is written with target's key. */
  copy(
    source: { bucket: string; key: string; versionId?: string } & CustomerKeyOption,
    target: { bucket: string; key: string } & CustomerKeyOption,
    options?: CopyOptions,
  ): Promise<PutResult>;
  presign(bucket: string, key: string, options: PresignOptions): Promise<string>;

  /** Multipart uploads that were started and never completed or aborted (empty where not applicable). */
  listIncompleteUploads(bucket: string): Promise<IncompleteUpload[]>;
  abortIncompleteUpload(bucket: string, upload: IncompleteUpload): Promise<void>;

  close(): Promise<void>;
}
