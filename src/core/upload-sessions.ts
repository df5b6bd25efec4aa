import { randomUUID } from "node:crypto";
import type { MultipartSessions, PutResult } from "../backends/object-store.ts";
import { isStorageError, StorageError } from "../errors.ts";
import type { SessionRow, UploadSessionTable } from "../metadata/upload-sessions.ts";
import type { CoreContext } from "./core-context.ts";
import type { IndexSync } from "./index-sync.ts";
import { checkParts, planParts, sha256Base64 } from "./session-parts.ts";
import {
  infoOf,
  type PartUrl,
  type SessionRequest,
  type SessionStatus,
  toSession,
  type UploadSession,
} from "./session-types.ts";
import { verifyAssembled } from "./session-verify.ts";
import type { ObjectInfo } from "./types.ts";

export type { PartUrl, SessionRequest, SessionStatus, UploadSession } from "./session-types.ts";

import { checkUploadRequest } from "./upload-checks.ts";

const DEFAULT_TTL_SECONDS = 24 * 3600;
const DEFAULT_PART_SIZE = 16 * 1024 ** 2;
/** A completion that has held its claim this long is taken to have died: another may take over. */
const CLAIM_LEASE_MS = 30 * 60_000;
/** Part URLs one call may ask for (a 10,000-part session asks in batches). */
const MAX_URLS_PER_CALL = 1000;
const SWEEP_BATCH = 100;
/** What completion's read-back refuses: a size or sha256 mismatch, or an executable hidden inside. */
const REFUSED_CONTENT: ReadonlySet<string> = new Set(["PRECONDITION_FAILED", "UNSUPPORTED_TYPE"]);

/**
 * Resumable uploads of large objects straight to the object store. The service opens a multipart
 * upload after the same checks as an upload (key, extension, size limit, checksum format) and
 * signs one URL per part with the part's sha256, which the store enforces; the client PUTs the
 * parts (in any order, again after a dropped connection: status() lists what the store has), then
 * asks the service to complete. Completion checks every part, has the store assemble the object,
 * reads it back through the upload path's checks (IngestGuard: the declared size and sha256, the
 * executable scan; memory bounded by the stream, not the object), and only then records the index
 * row, once, under the key's lock (IndexSync). A refusal removes the object. Sessions not completed within UPLOAD_SESSION_TTL are
 * aborted by sweep(), which drops their parts.
 */
export class UploadSessions {
  readonly #core: CoreContext;
  readonly #sync: IndexSync;
  readonly #table: UploadSessionTable | undefined;
  #timer: NodeJS.Timeout | undefined;
  #sweeping = false;

  constructor(core: CoreContext, deps: { sync: IndexSync; table: UploadSessionTable | undefined }) {
    this.#core = core;
    this.#sync = deps.sync;
    this.#table = deps.table;
  }

  async create(req: SessionRequest): Promise<UploadSession> {
    const { parts, table } = this.#capable();
    const { settings, buckets } = this.#core;
    if (typeof req.sha256 !== "string") {
      throw new StorageError(
        "INVALID_ARGUMENT",
        "An upload session needs the object's sha256 (64 hex characters).",
        {
          field: "sha256",
        },
      );
    }
    if (typeof req.size !== "number") {
      throw new StorageError("INVALID_ARGUMENT", "An upload session needs the object's size in bytes.", {
        field: "size",
      });
    }
    if (!req.owner)
      throw new StorageError("INVALID_ARGUMENT", "An upload session needs an owner.", { field: "owner" });
    // The same refusals as an upload: names, metadata, extension, size against the bucket's limit.
    const { bucket, key, metadata } = checkUploadRequest(
      {
        bucket: req.bucket,
        key: req.key,
        metadata: req.metadata,
        expectedSize: req.size,
        expectedSha256: req.sha256,
      },
      settings,
    );
    const { partSize, partCount } = planParts(
      req.size,
      req.partSize,
      settings.multipart?.partSize ?? DEFAULT_PART_SIZE,
    );
    if (!(await buckets.exists(bucket))) {
      throw new StorageError("NOT_FOUND", `Bucket '${bucket}' does not exist.`, { bucket });
    }
    const contentType = req.contentType || "application/octet-stream";
    const uploadId = await parts.create(bucket, key, { contentType, metadata });
    const createdAt = new Date();
    const ttl = settings.uploadSessions?.ttlSeconds ?? DEFAULT_TTL_SECONDS;
    const row = {
      id: randomUUID(),
      bucket,
      key,
      uploadId,
      size: req.size,
      sha256: req.sha256.toLowerCase(),
      partSize,
      partCount,
      contentType,
      metadata,
      owner: req.owner,
      createdAt,
      expiresAt: new Date(createdAt.getTime() + ttl * 1000),
    };
    try {
      await table.insert(row);
    } catch (err) {
      await parts.abort({ bucket, key, uploadId }).catch(() => {});
      throw err;
    }
    return toSession({ ...row, state: "open" });
  }

  async partUrls(
    id: string,
    owner: string,
    requested: { partNumber: number; sha256?: string }[],
  ): Promise<PartUrl[]> {
    const { parts } = this.#capable();
    const row = await this.#openSession(id, owner);
    if (!Array.isArray(requested) || requested.length === 0 || requested.length > MAX_URLS_PER_CALL) {
      throw new StorageError("INVALID_ARGUMENT", `Ask for 1 to ${MAX_URLS_PER_CALL} parts at a time.`, {
        field: "parts",
      });
    }
    const seen = new Set<number>();
    const checked = requested.map(({ partNumber, sha256 }, i) => {
      if (
        !Number.isSafeInteger(partNumber) ||
        partNumber < 1 ||
        partNumber > row.partCount ||
        seen.has(partNumber)
      ) {
        throw new StorageError(
          "INVALID_ARGUMENT",
          `Part numbers must be distinct whole numbers from 1 to ${row.partCount} (this session's part count).`,
          { field: `parts[${i}].partNumber`, limit: row.partCount },
        );
      }
      seen.add(partNumber);
      // The session's upload demands every part's sha256 (the store checks the body against it).
      if (sha256 === undefined) {
        throw new StorageError(
          "INVALID_ARGUMENT",
          "Each part needs its sha256 (hex): it is signed into the part's URL and the store refuses a body that does not match.",
          { field: `parts[${i}].sha256` },
        );
      }
      return { partNumber, sha256: sha256Base64(sha256, `parts[${i}].sha256`) };
    });
    const { defaultExpiry } = this.#core.settings.presign;
    const untilSessionEnds = Math.floor((row.expiresAt.getTime() - Date.now()) / 1000);
    const seconds = Math.max(1, Math.min(defaultExpiry, untilSessionEnds));
    const expiresAt = new Date(Date.now() + seconds * 1000);
    const target = { bucket: row.bucket, key: row.key, uploadId: row.uploadId };
    return Promise.all(
      checked.map(async (part) => {
        const signed = await parts.presignPart(target, part, seconds);
        return {
          partNumber: part.partNumber,
          url: signed.url,
          method: "PUT" as const,
          headers: signed.headers,
          expiresAt,
        };
      }),
    );
  }

  /** The caller's session, without asking the store (for authorization before acting on it). */
  async get(id: string, owner: string): Promise<UploadSession> {
    this.#capable();
    return toSession(await this.#own(id, owner));
  }

  async status(id: string, owner: string): Promise<SessionStatus> {
    const { parts } = this.#capable();
    const row = await this.#own(id, owner);
    const held =
      row.state === "open" && row.versionId === null
        ? await parts.listParts({ bucket: row.bucket, key: row.key, uploadId: row.uploadId })
        : [];
    return {
      ...toSession(row),
      parts: held.map((p) => ({ partNumber: p.partNumber, size: p.size, etag: p.etag })),
    };
  }

  /**
   * Completes a session: exactly once, however many callers ask at once (one claims it, the others
   * are told it is being completed); a second call once completed answers the same ObjectInfo.
   */
  async complete(id: string, owner: string, signal?: AbortSignal): Promise<ObjectInfo> {
    const { parts, table } = this.#capable();
    let row = await this.#own(id, owner);
    if (row.state === "completed") return infoOf(row);
    row = this.#stillOpen(row);
    const now = new Date();
    if (!(await table.claim(id, now, new Date(now.getTime() - CLAIM_LEASE_MS)))) {
      const again = await this.#own(id, owner);
      if (again.state === "completed") return infoOf(again);
      throw new StorageError(
        "PRECONDITION_FAILED",
        "The upload session is being completed by another request; ask again in a moment.",
        { state: again.state === "open" ? "completing" : again.state },
      );
    }
    let finished = false;
    try {
      const target = { bucket: row.bucket, key: row.key, uploadId: row.uploadId };
      let stored: PutResult;
      if (row.versionId !== null && row.etag !== null) {
        // An earlier completion had the object made and stopped before recording it: resume there.
        stored = { versionId: row.versionId, etag: row.etag };
      } else {
        const complete = checkParts(await parts.listParts(target), row);
        stored = await parts.complete(target, complete);
        await table.noteStored(id, stored);
      }
      try {
        await verifyAssembled(this.#core, row, stored, signal);
      } catch (err) {
        if (!(isStorageError(err) && REFUSED_CONTENT.has(err.code))) throw err;
        // The bytes are not what was declared (or hide an executable): they never become an object
        // of the service.
        await this.#sync.withdraw({ bucket: row.bucket, key: row.key, ...stored });
        await table.finish(id, "aborted", new Date());
        finished = true;
        throw new StorageError(
          err.code,
          `${err.message} The assembled object was removed and the session aborted: start a new session.`,
          { ...err.details, bucket: row.bucket, key: row.key },
          { cause: err },
        );
      }
      const record = {
        bucket: row.bucket,
        key: row.key,
        versionId: stored.versionId,
        size: row.size,
        sha256: row.sha256,
        etag: stored.etag,
        contentType: row.contentType,
        metadata: row.metadata,
        owner: row.owner,
      };
      // The same locked record as every write (IndexSync): one row, following the store's current object.
      await this.#sync.record(record);
      const completedAt = new Date();
      await table.finish(id, "completed", completedAt);
      finished = true;
      return infoOf({ ...row, versionId: stored.versionId, etag: stored.etag, completedAt });
    } finally {
      if (!finished) await table.release(id).catch(() => {});
    }
  }

  /** Aborts an open session and drops its parts; aborting an aborted session is a no-op. */
  async abort(id: string, owner: string): Promise<void> {
    const { table } = this.#capable();
    const row = await this.#own(id, owner);
    if (row.state === "aborted") return;
    if (row.state === "completed") {
      throw new StorageError(
        "PRECONDITION_FAILED",
        "The upload session is completed: delete the object instead.",
        { state: "completed" },
      );
    }
    const now = new Date();
    if (!(await table.claim(id, now, new Date(now.getTime() - CLAIM_LEASE_MS)))) {
      throw new StorageError(
        "PRECONDITION_FAILED",
        "The upload session is being completed and cannot be aborted now.",
        { state: "completing" },
      );
    }
    try {
      await this.#drop(row);
    } catch (err) {
      await table.release(id).catch(() => {});
      throw err;
    }
  }

  /** Aborts open sessions past their expiry (UPLOAD_SESSION_TTL); returns how many. */
  async sweep(now: Date = new Date()): Promise<number> {
    const table = this.#table;
    if (!table || !this.#core.store.multipartSessions) return 0;
    const staleBefore = new Date(now.getTime() - CLAIM_LEASE_MS);
    let aborted = 0;
    for (;;) {
      const due = await table.expired(now, staleBefore, SWEEP_BATCH);
      let progressed = false;
      for (const row of due) {
        // Claimed first, so a completion running right now is not pulled from under it.
        if (!(await table.claim(row.id, now, staleBefore))) continue;
        try {
          await this.#drop(row);
          aborted++;
          progressed = true;
        } catch (err) {
          await table.release(row.id).catch(() => {});
          this.#core.log.warn(
            { err, session: row.id },
            "upload session sweep could not abort a session; next sweep retries",
          );
        }
      }
      if (due.length < SWEEP_BATCH || !progressed) return aborted;
    }
  }

  /** Upload ids of open sessions in a bucket: reconcile leaves their multipart uploads alone. */
  async openUploadIds(bucket: string): Promise<Set<string>> {
    return this.#table ? this.#table.openUploadIds(bucket) : new Set();
  }

  /** Sweeps every UPLOAD_SESSION_SWEEP_INTERVAL (one sweep at a time); stop() ends it. */
  start(): void {
    const seconds = this.#core.settings.uploadSessions?.sweepIntervalSeconds ?? 0;
    if (seconds <= 0 || this.#timer || !this.#table) return;
    this.#timer = setInterval(() => void this.#tick(), seconds * 1000);
    this.#timer.unref();
  }

  stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }

  async #tick(): Promise<void> {
    if (this.#sweeping) return;
    this.#sweeping = true;
    try {
      const aborted = await this.sweep();
      if (aborted > 0) this.#core.log.info({ aborted }, "upload session sweep");
    } catch (err) {
      this.#core.log.error({ err }, "upload session sweep failed; retrying next interval");
    } finally {
      this.#sweeping = false;
    }
  }

  /** Aborts the store's upload (and takes back an object made but never verified), then the row. */
  async #drop(row: SessionRow): Promise<void> {
    const { parts, table } = this.#capable();
    await parts.abort({ bucket: row.bucket, key: row.key, uploadId: row.uploadId });
    if (row.versionId !== null && row.etag !== null) {
      await this.#sync.withdraw({
        bucket: row.bucket,
        key: row.key,
        versionId: row.versionId,
        etag: row.etag,
      });
    }
    await table.finish(row.id, "aborted", new Date());
  }

  /** The caller's session; another caller's is as unknown as one that never existed. */
  async #own(id: string, owner: string): Promise<SessionRow> {
    const { table } = this.#capable();
    const row = typeof id === "string" && /^[0-9a-f-]{36}$/.test(id) ? await table.get(id) : undefined;
    if (!row || row.owner !== owner) {
      throw new StorageError("NOT_FOUND", `No upload session '${String(id).slice(0, 64)}' for this caller.`, {
        field: "id",
      });
    }
    return row;
  }

  async #openSession(id: string, owner: string): Promise<SessionRow> {
    return this.#stillOpen(await this.#own(id, owner));
  }

  #stillOpen(row: SessionRow): SessionRow {
    if (row.state !== "open") {
      throw new StorageError("PRECONDITION_FAILED", `The upload session is ${row.state}.`, {
        state: row.state,
      });
    }
    if (row.expiresAt.getTime() <= Date.now()) {
      throw new StorageError(
        "PRECONDITION_FAILED",
        `The upload session expired at ${row.expiresAt.toISOString()} (UPLOAD_SESSION_TTL): start a new session.`,
        { state: "expired" },
      );
    }
    return row;
  }

  #capable(): { parts: MultipartSessions; table: UploadSessionTable } {
    const parts = this.#core.store.multipartSessions;
    if (!parts) {
      throw new StorageError(
        "UNSUPPORTED_OPERATION",
        "Upload sessions need an S3/MinIO backend (clients upload parts straight to it); this one is local: upload through the service instead.",
      );
    }
    if (!this.#table) {
      throw new StorageError("UNSUPPORTED_OPERATION", "Upload sessions need the metadata database.");
    }
    return { parts, table: this.#table };
  }
}
