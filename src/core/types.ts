import type { Readable } from "node:stream";
import type { ByteRange } from "../backends/object-store.ts";

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
}

export interface UploadRequest {
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
  signal?: AbortSignal;
  onProgress?: (bytes: number) => void;
}

export interface DownloadOptions {
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
