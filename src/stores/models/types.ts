import type { Readable } from "node:stream";
import type { UploadSession } from "../../core/upload-sessions.ts";

/** The model store's public shapes (agreed with the gRPC service and the CLI; see index.ts). */

export type Encoding = "identity" | "gzip" | "zstd";

/** One file of a version: `size` and `sha256` describe the content, `storedSize` what the blob takes. */
export interface ModelFile {
  path: string;
  size: number;
  sha256: string;
  storedSize: number;
  encoding: Encoding;
}

export interface ModelMetadata {
  framework?: string;
  metrics?: Record<string, number>;
  tags?: string[];
  description?: string;
  parentVersion?: string;
  extra?: Record<string, string>;
}

export interface ModelVersion {
  modelType: string;
  version: string;
  files: ModelFile[];
  metadata: ModelMetadata;
  uploader: string;
  createdAt: Date;
  /** Named aliases pointing here, plus "latest" on the newest version of the type. */
  aliases: string[];
}

export interface ModelFileInput {
  path: string;
  body: Readable;
  size?: number;
  sha256?: string;
}

export interface BlobInput {
  body: Readable;
  size?: number;
  /** Hex sha256 of the content: a blob already stored under it is not sent again. */
  sha256?: string;
  /** The file's path in its manifest: its extension helps decide whether compression pays. */
  path: string;
}

export interface StoredBlob {
  sha256: string;
  size: number;
  storedSize: number;
  encoding: Encoding;
  deduplicated: boolean;
}

export interface ModelListFilter {
  modelType?: string;
  tag?: string;
  metadata?: { key: string; value: string };
  createdAfter?: Date;
  cursor?: string;
  limit?: number;
}

export interface GcReport {
  blobs: number;
  /** Bytes the blobs take in the store (compressed where they are). */
  bytes: number;
  deleted: boolean;
  keys: string[];
}

export interface ModelStore {
  /** Stores one file's bytes; a declared sha256 already stored is not read again (its size must match). */
  putBlob(input: BlobInput, owner: string, signal?: AbortSignal): Promise<StoredBlob>;
  /**
   * A resumable upload session (core/upload-sessions.ts) to `blobs/sha256/<hex>` for a large file, or
   * the blob itself when it is stored already (deduplicated). UNSUPPORTED_OPERATION on the local backend.
   */
  openBlobSession(
    req: { sha256: string; size: number; path: string; partSize?: number },
    owner: string,
  ): Promise<{ blob: StoredBlob } | { session: UploadSession }>;
  /** The stored blob's content size (and how it is stored), or undefined. */
  hasBlob(sha256: string): Promise<{ size: number; storedSize: number; encoding: Encoding } | undefined>;
  publish(
    modelType: string,
    version: string,
    files: { path: string; sha256: string }[],
    metadata: ModelMetadata,
    owner: string,
  ): Promise<ModelVersion>;
  push(
    modelType: string,
    version: string,
    files: ModelFileInput[],
    metadata: ModelMetadata,
    owner: string,
    signal?: AbortSignal,
  ): Promise<ModelVersion>;
  /** A version by name or alias ("latest" included). */
  get(modelType: string, ref: string): Promise<ModelVersion>;
  /** Decompressed, and verified against the manifest's sha256 while streaming (DATA_CORRUPTED on the stream). */
  openFile(
    modelType: string,
    ref: string,
    path: string,
    signal?: AbortSignal,
  ): Promise<{ file: ModelFile; body: Readable }>;
  list(filter: ModelListFilter): Promise<{ versions: ModelVersion[]; nextCursor?: string }>;
  deleteVersion(modelType: string, version: string, options: { force?: boolean }): Promise<void>;
  setAlias(modelType: string, alias: string, version: string): Promise<void>;
  removeAlias(modelType: string, alias: string): Promise<void>;
  gc(options: { dryRun: boolean; graceSeconds?: number }): Promise<GcReport>;
}
