import type { Readable } from "node:stream";
import type { ByteRange } from "../backends/object-store.ts";
import type { Secret } from "../config/secret.ts";

/**
 * SSE-C: the caller's AES-256 key, a Secret holding base64 of 32 bytes (build it with
 * `customerKey()` from core/customer-key.ts). Sent to the store with the request, never stored or
 * logged. Refused with PRECONDITION_FAILED (details.sseCustomerKey "needs-tls") when the store is
 * reached over plain HTTP, with UNSUPPORTED_OPERATION on the local backend.
 */
export interface CustomerKeyOptions {
  sseCustomerKey?: Secret;
}

/** What the service knows about one object version. */
export interface ObjectInfo {
  bucket: string;
  key: string;
  versionId: string;
  size: number;
  etag: string;
  /** Hex sha256 of the content; undefined only for objects written around the service and not yet indexed. */
  sha256?: string;
  contentType: string;
  metadata: Record<string, string>;
  owner?: string;
  lastModified: Date;
  /** "SSE-C" when the bytes are encrypted with a customer key (reads need the same key). */
  encryption?: "SSE-C";
}

export interface UploadRequest extends CustomerKeyOptions {
  bucket: string;
  key: string;
  body: Readable;
  contentType?: string;
  metadata?: Record<string, string>;
  /** The calling service, recorded as the owner of the version. */
  owner?: string;
  /** When given, a body of any other length is refused (PRECONDITION_FAILED) and nothing is stored. */
  expectedSize?: number;
  /** When given (hex), a body with another sha256 is refused and nothing is stored. */
  expectedSha256?: string;
  /**
   * Conditional write, checked atomically where the object becomes visible: `"*"` stores only if
   * the key has no current object (create-if-absent); no other value is accepted (INVALID_ARGUMENT).
   * A failed condition is PRECONDITION_FAILED and stores nothing.
   */
  ifNoneMatch?: string;
  /** Conditional write: stores only if the current object's ETag is this one (compare-and-swap). */
  ifMatch?: string;
  signal?: AbortSignal;
  onProgress?: (bytes: number) => void;
}

/**
 * With sseCustomerKey: a wrong key fails with PERMISSION_DENIED (details.sseCustomerKey "mismatch"),
 * a missing key for an SSE-C object and a key for a plain object with INVALID_ARGUMENT
 * ("required" / "not-applicable"). Ranged reads take the key too.
 */
export interface DownloadOptions extends CustomerKeyOptions {
  versionId?: string;
  range?: ByteRange;
  signal?: AbortSignal;
}

export interface Download {
  info: ObjectInfo;
  /** Bytes in this response (the range length for ranged reads). */
  contentLength: number;
  range?: { start: number; end: number };
  /** Full reads are verified against the recorded sha256: a mismatch fails the stream with DATA_CORRUPTED. */
  body: Readable;
}

export type StatOptions = CustomerKeyOptions;

/** The source of a copy; its sseCustomerKey decrypts it. */
export interface CopySource extends CustomerKeyOptions {
  bucket: string;
  key: string;
  versionId?: string;
}

/** The target of a copy; its sseCustomerKey encrypts it, and defaults to the source's key. */
export interface CopyTarget extends CustomerKeyOptions {
  bucket: string;
  key: string;
}

export interface ListRequest {
  prefix?: string;
  /** true (default false): every key under the prefix; false: one level, with common prefixes for '/'. */
  recursive?: boolean;
  cursor?: string;
  limit?: number;
}

export interface ObjectSummary {
  key: string;
  versionId: string;
  size: number;
  etag: string;
  sha256: string;
  contentType: string;
  lastModified: Date;
}

export interface ListResult {
  objects: ObjectSummary[];
  prefixes: string[];
  nextCursor?: string;
}

export interface PresignRequest {
  method: "GET" | "PUT";
  expiresInSeconds?: number;
  versionId?: string;
  contentType?: string;
}

export interface PresignedUrl {
  url: string;
  method: "GET" | "PUT";
  expiresAt: Date;
}
