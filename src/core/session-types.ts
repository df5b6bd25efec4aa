import { NULL_VERSION } from "../backends/object-store.ts";
import type { SessionRow } from "../metadata/upload-sessions.ts";
import type { ObjectInfo } from "./types.ts";

/** The shapes of upload sessions (upload-sessions.ts), as callers and transports see them. */

export interface SessionRequest {
  bucket: string;
  key: string;
  /** Declared total size in bytes (checked against the bucket's size limit up front). */
  size: number;
  /** Declared hex sha256 of the whole object, checked on completion. */
  sha256: string;
  contentType?: string;
  metadata?: Record<string, string>;
  /** Key id / service of the caller (as uploads record it). */
  owner: string;
  /** Default STORAGE_MULTIPART_PART_SIZE (grown to fit 10,000 parts); 5 MiB to 5 GiB. */
  partSize?: number;
}

export interface UploadSession {
  id: string;
  bucket: string;
  key: string;
  size: number;
  sha256: string;
  partSize: number;
  partCount: number;
  contentType: string;
  metadata: Record<string, string>;
  owner: string;
  createdAt: Date;
  expiresAt: Date;
  state: "open" | "completed" | "aborted";
}

export interface PartUrl {
  partNumber: number;
  url: string;
  method: "PUT";
  /** Send exactly these headers: the part's sha256 is signed in, and the store checks the body against it. */
  headers: Record<string, string>;
  expiresAt: Date;
}

/** A session and the parts its store holds (after a dropped connection: upload only the others). */
export interface SessionStatus extends UploadSession {
  parts: { partNumber: number; size: number; etag: string }[];
}

export const toSession = (
  row: Omit<SessionRow, "claimedAt" | "versionId" | "etag" | "completedAt">,
): UploadSession => ({
  id: row.id,
  bucket: row.bucket,
  key: row.key,
  size: row.size,
  sha256: row.sha256,
  partSize: row.partSize,
  partCount: row.partCount,
  contentType: row.contentType,
  metadata: row.metadata,
  owner: row.owner,
  createdAt: row.createdAt,
  expiresAt: row.expiresAt,
  state: row.state,
});

/** What complete() answers, the first time and every time after. */
export const infoOf = (row: SessionRow): ObjectInfo => ({
  bucket: row.bucket,
  key: row.key,
  versionId: row.versionId ?? NULL_VERSION,
  size: row.size,
  etag: row.etag ?? "",
  sha256: row.sha256,
  contentType: row.contentType,
  metadata: row.metadata,
  owner: row.owner,
  lastModified: row.completedAt ?? row.createdAt,
});
