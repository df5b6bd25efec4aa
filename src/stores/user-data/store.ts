import { randomUUID } from "node:crypto";
import type { Readable } from "node:stream";
import { mapBounded } from "../../bounded.ts";
import type { StorageService } from "../../core/storage-service.ts";
import type { Download, ObjectInfo } from "../../core/types.ts";
import { ERROR_CODES, StorageError } from "../../errors.ts";
import { checkFilename, checkUserId, fileKey, parseFileKey, userPrefix } from "./keys.ts";
import type { QuotaLedger, Reservation, Usage } from "./quota.ts";

/**
 * User uploads in the user-data bucket, through StorageService's public API only (so extension,
 * magic-byte and size rules from STORAGE_* apply as to any upload), with per-user quotas from the
 * QuotaLedger. See keys.ts for the layout.
 */

export interface UserFile {
  userId: string;
  uploadId: string;
  filename: string;
  key: string;
  size: number;
  sha256: string;
  contentType: string;
  lastModified: Date;
}

export interface UserUpload {
  userId: string;
  filename: string;
  body: Readable;
  /**
   * The body's length, announced before it is read (HTTP Content-Length): reserved against the
   * quota before any byte is accepted, and the core refuses a body of any other length. Required,
   * because a quota cannot be judged against a size nobody knows.
   */
  size: number;
  contentType?: string;
  owner: string;
  signal?: AbortSignal;
}

export interface DeleteAllReport {
  userId: string;
  deletedObjects: number;
  deletedBytes: number;
  failed: number;
  errors: Array<{ key: string; code: string; message: string }>;
}

const PAGE = 1000;
const DELETE_CONCURRENCY = 8;
const MAX_REPORTED_ERRORS = 20;

export class UserDataStore {
  readonly bucket: string;
  readonly #service: StorageService;
  readonly #quota: QuotaLedger;

  constructor(deps: { service: StorageService; quota: QuotaLedger; bucket: string }) {
    this.#service = deps.service;
    this.#quota = deps.quota;
    this.bucket = deps.bucket;
  }

  /** Stores one upload under a new upload id, within the user's quota (TOO_LARGE when over it). */
  async upload(req: UserUpload): Promise<UserFile> {
    const key = fileKey(req.userId, randomUUID(), checkFilename(req.filename));
    if (!Number.isSafeInteger(req.size) || req.size < 0) {
      throw new StorageError("INVALID_ARGUMENT", "An upload needs its size (Content-Length) up front.", {
        field: "size",
      });
    }
    let reservation: Reservation;
    try {
      reservation = await this.#quota.reserve(req.userId, req.size);
    } catch (err) {
      // Refused before a byte was read: the caller's stream is not ours to keep open.
      req.body.destroy();
      throw err;
    }
    let info: ObjectInfo;
    try {
      info = await this.#service.upload({
        bucket: this.bucket,
        key,
        body: req.body,
        expectedSize: req.size,
        owner: req.owner,
        ...(req.contentType ? { contentType: req.contentType } : {}),
        ...(req.signal ? { signal: req.signal } : {}),
      });
    } catch (err) {
      req.body.destroy();
      await this.#quota.release(reservation);
      throw err;
    }
    try {
      await this.#quota.settle(reservation, info.size);
    } catch (err) {
      // An object the quota does not count would let the user exceed it: take the write back.
      await this.#service.withdraw(info).catch(() => undefined);
      throw err;
    }
    return toUserFile(info);
  }

  /** One page of a user's files (every upload, oldest upload id order is not implied). */
  async list(userId: string, options: { cursor?: string; limit?: number } = {}) {
    const page = await this.#service.list(this.bucket, {
      prefix: userPrefix(userId),
      recursive: true,
      ...(options.cursor ? { cursor: options.cursor } : {}),
      ...(options.limit ? { limit: options.limit } : {}),
    });
    const files: UserFile[] = [];
    for (const o of page.objects) {
      const parts = parseFileKey(o.key);
      if (!parts) continue;
      files.push({
        ...parts,
        key: o.key,
        size: o.size,
        sha256: o.sha256,
        contentType: o.contentType,
        lastModified: o.lastModified,
      });
    }
    return { files, ...(page.nextCursor ? { nextCursor: page.nextCursor } : {}) };
  }

  async download(
    userId: string,
    uploadId: string,
    filename: string,
    signal?: AbortSignal,
  ): Promise<Download & { file: UserFile }> {
    const key = fileKey(userId, uploadId, filename);
    const download = await this.#service.download(this.bucket, key, signal ? { signal } : {});
    return { ...download, file: toUserFile(download.info) };
  }

  /** Deletes one file and gives its bytes back to the user's quota. */
  async delete(userId: string, uploadId: string, filename: string): Promise<UserFile> {
    const key = fileKey(userId, uploadId, filename);
    const info = await this.#service.stat(this.bucket, key);
    await this.#service.delete(this.bucket, key);
    await this.#quota.subtract(userId, info.size, 1);
    return toUserFile(info);
  }

  /**
   * Deletes everything under the user's prefix, a listing page (up to 1000 files) at a time with a
   * few deletes in flight, and reports what went: what a data-removal request needs. Failures are
   * counted, not fatal, so one bad object never keeps the rest; run it again to retry them.
   */
  async deleteAll(userId: string, signal?: AbortSignal): Promise<DeleteAllReport> {
    const prefix = userPrefix(userId);
    const report: DeleteAllReport = { userId, deletedObjects: 0, deletedBytes: 0, failed: 0, errors: [] };
    let cursor: string | undefined;
    do {
      signal?.throwIfAborted();
      const page = await this.#service.list(this.bucket, {
        prefix,
        recursive: true,
        limit: PAGE,
        ...(cursor ? { cursor } : {}),
      });
      let bytes = 0;
      let objects = 0;
      await mapBounded(page.objects, DELETE_CONCURRENCY, async (o) => {
        try {
          await this.#service.delete(this.bucket, o.key);
          bytes += o.size;
          objects++;
        } catch (err) {
          if (err instanceof StorageError && err.code === "NOT_FOUND") return;
          report.failed++;
          if (report.errors.length < MAX_REPORTED_ERRORS) {
            const pub =
              err instanceof StorageError
                ? err.toPublic()
                : { code: "INTERNAL", message: ERROR_CODES.INTERNAL };
            report.errors.push({ key: o.key, code: pub.code, message: pub.message });
          }
        }
      });
      await this.#quota.subtract(userId, bytes, objects);
      report.deletedBytes += bytes;
      report.deletedObjects += objects;
      cursor = page.nextCursor;
    } while (cursor);
    return report;
  }

  usage(userId: string): Promise<Usage> {
    return this.#quota.usage(checkUserId(userId));
  }

  setQuota(userId: string, limits: { bytes?: number | null; objects?: number | null }): Promise<Usage> {
    return this.#quota.setQuota(checkUserId(userId), limits);
  }
}

function toUserFile(info: ObjectInfo): UserFile {
  const parts = parseFileKey(info.key);
  if (!parts) throw new StorageError("INTERNAL", `${info.key} is not a user-data key.`);
  return {
    ...parts,
    key: info.key,
    size: info.size,
    sha256: info.sha256 ?? "",
    contentType: info.contentType,
    lastModified: info.lastModified,
  };
}
