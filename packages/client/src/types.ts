import type { Readable } from "node:stream";
import type { ByteRange__Output } from "./generated/lumenslate/storage/v1/ByteRange.ts";
import type { CopyFileResponse__Output } from "./generated/lumenslate/storage/v1/CopyFileResponse.ts";
import type { DeleteFileResponse__Output } from "./generated/lumenslate/storage/v1/DeleteFileResponse.ts";
import type { DownloadFileHeader__Output } from "./generated/lumenslate/storage/v1/DownloadFileHeader.ts";
import type { DownloadFileRequest } from "./generated/lumenslate/storage/v1/DownloadFileRequest.ts";
import type { FileInfo__Output } from "./generated/lumenslate/storage/v1/FileInfo.ts";
import type { GetFileUrlRequest } from "./generated/lumenslate/storage/v1/GetFileUrlRequest.ts";
import type { GetFileUrlResponse__Output } from "./generated/lumenslate/storage/v1/GetFileUrlResponse.ts";
import type { ListFilesRequest } from "./generated/lumenslate/storage/v1/ListFilesRequest.ts";
import type { ListFilesResponse__Output } from "./generated/lumenslate/storage/v1/ListFilesResponse.ts";
import type { StatFileRequest } from "./generated/lumenslate/storage/v1/StatFileRequest.ts";
import type { UploadFileHeader } from "./generated/lumenslate/storage/v1/UploadFileHeader.ts";
import type { UploadFileResponse__Output } from "./generated/lumenslate/storage/v1/UploadFileResponse.ts";

/**
 * The client's request and result types, derived from the generated message types (so they follow
 * the .proto): required fields made required, 64-bit integers as numbers, timestamps as Dates and
 * the URL method as "GET" | "PUT".
 */

/** Options every call takes. */
export interface CallOptions {
  /** Cancels the call (the server then aborts the operation: an upload leaves nothing behind). */
  signal?: AbortSignal;
  /** Deadline, in milliseconds from now; the server stops working on the call when it passes. */
  timeoutMs?: number;
  /**
   * Sent as `x-request-id` (the server logs it): 1-128 letters, digits, '.', '_', '-'. The server
   * replaces an absent one, any other, and one that holds an API key, with a new UUID.
   */
  requestId?: string;
  /** The user this call acts for, sent as `x-user-id` (binds `{user_id}` in the key's scopes). */
  userId?: string;
}

/** SSE-C for upload, download and stat: sent as call metadata (with its MD5), never in a message. */
export interface CustomerKeyOption {
  /**
   * The object's customer-provided key: 32 random bytes (AES-256), e.g. `randomBytes(32)`. Every
   * read of the object needs the same key; the service never stores it. The server's object store
   * must be reached over TLS (else PRECONDITION_FAILED).
   */
  sseCustomerKey?: Uint8Array;
}

/** Progress for uploads and downloads. */
export interface ProgressOption {
  /**
   * Called as bytes move, with the bytes so far and the total when known (an upload's
   * `expectedSize`, a download's content length). For an upload, "so far" counts bytes handed to
   * the call, so the last call comes before the server's answer. A retried transfer counts again
   * from 0.
   */
  onProgress?: (transferred: number, total: number | undefined) => void;
}

/**
 * How a file moves: "proxy" through the service; "direct" straight to or from the object store
 * with presigned URLs the service issues after its usual checks (uploads through an upload session
 * the service completes, verifies and indexes; downloads verified against the recorded sha256);
 * "auto" (the default) direct for files of at least `directThreshold`, falling back to the service
 * when it has no direct path (local backend), the key may not presign, or the store is not
 * reachable from here. Only uploadFile and downloadToFile move directly.
 */
export type Transfer = "auto" | "direct" | "proxy";

export interface TransferOption {
  /** Overrides the client's `transfer` for this call (uploadFile and downloadToFile only). */
  transfer?: Transfer;
}

type Require<T, K extends keyof T> = Required<Pick<T, K>>;

export type FileInfo = Omit<FileInfo__Output, "lastModified"> & { lastModified: Date };

/** An object, or one version of it. */
export type ObjectRef = Require<StatFileRequest, "bucket" | "objectName"> &
  Pick<StatFileRequest, "versionId">;

export type UploadTarget = Require<UploadFileHeader, "bucket" | "objectName"> &
  Pick<UploadFileHeader, "contentType" | "metadata"> & {
    /**
     * The size announced: any other length is refused and nothing is stored. Buffers, strings and
     * files announce their own; a stream or iterable announces only this.
     */
    expectedSize?: number;
    /**
     * The hex sha256 announced: other bytes are refused (PRECONDITION_FAILED) and nothing is
     * stored. Buffers, strings and files announce their own (computed before sending); a stream
     * or iterable announces only this.
     */
    sha256?: string;
    /**
     * Compute the sha256 of a Buffer, string or file to announce it (default true). `false`
     * saves the extra pass over a large file; its size is still announced, and the service's
     * answer is still checked against the bytes sent.
     */
    checksum?: boolean;
  };
export type UploadOptions = UploadTarget & CallOptions & CustomerKeyOption & ProgressOption & TransferOption;
export type UploadResult = UploadFileResponse__Output;
export type CopyResult = CopyFileResponse__Output;
export type DeleteResult = DeleteFileResponse__Output;

/** Inclusive byte range: { start: 0, end: 9 } is the first ten bytes; no end means to the end. */
export type ByteRange = Omit<ByteRange__Output, "_end">;

export type DownloadOptions = Require<DownloadFileRequest, "bucket" | "objectName"> &
  Pick<DownloadFileRequest, "versionId"> &
  CallOptions &
  CustomerKeyOption &
  ProgressOption &
  TransferOption & {
    range?: ByteRange;
    /**
     * Check a full read against the sha256 the service recorded (default true; ranged reads are
     * not hashed): a mismatch is DataCorruptedError. The service checks what it reads from its
     * store; this checks everything after. `false` accepts the bytes as they arrive.
     */
    verify?: boolean;
  };

export type StatOptions = CallOptions & CustomerKeyOption;

export type DownloadResult = Pick<DownloadFileHeader__Output, "contentLength"> & {
  file: FileInfo;
  /** The satisfied range, for ranged reads. */
  range?: Required<ByteRange>;
  /** The object's bytes, with backpressure: the server sends only as fast as this is read. */
  stream: Readable;
};

export type ListOptions = Require<ListFilesRequest, "bucket"> &
  Pick<ListFilesRequest, "prefix" | "recursive" | "pageSize" | "pageToken"> &
  CallOptions;

export type ListPage = Pick<ListFilesResponse__Output, "prefixes"> & {
  files: FileInfo[];
  /** Absent on the last page. */
  nextPageToken?: string;
};

export type UrlOptions = Require<GetFileUrlRequest, "bucket" | "objectName"> &
  Pick<GetFileUrlRequest, "versionId" | "contentType"> &
  CallOptions & {
    /** Default GET. */
    method?: "GET" | "PUT";
    expiresInSeconds?: number;
  };

export type PresignedUrl = Pick<GetFileUrlResponse__Output, "url"> & {
  method: "GET" | "PUT";
  expiresAt: Date;
};
