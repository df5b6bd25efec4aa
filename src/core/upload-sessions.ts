import { randomUUID } from "node:crypto";
import type { MultipartSessions, PutResult } from "../backends/object-store.ts";
import { StorageError } from "../errors.ts";
import type { SessionRow, UploadSessionTable } from "../metadata/upload-sessions.ts";
import { PeriodicTask } from "../periodic.ts";
import type { CoreContext } from "./core-context.ts";
import type { IndexSync } from "./index-sync.ts";
import {
  busy,
  checkPartRequests,
  checkSessionFields,
  noMultipartBackend,
  noSessionTable,
  stillOpen,
  unknownSession,
} from "./session-checks.ts";
import { checkParts, planParts } from "./session-parts.ts";
import { sweepExpired } from "./session-sweep.ts";
import {
  infoOf,
  type PartUrl,
  type SessionRequest,
  type SessionStatus,
  toSession,
  type UploadSession,
} from "./session-types.ts";
import { settleAssembled } from "./session-verify.ts";
import type { ObjectInfo } from "./types.ts";

import { checkUploadRequest } from "./upload-checks.ts";

export type { PartUrl, SessionRequest, SessionStatus, UploadSession } from "./session-types.ts";

const DEFAULT_TTL_SECONDS = 24 * 3600;
const DEFAULT_PART_SIZE = 16 * 1024 ** 2;
/** A completion that has held its claim this long is taken to have died: another may take over. */
const CLAIM_LEASE_MS = 30 * 60_000;

/**
 * Resumable uploads of large objects straight to the object store. The service opens a multipart
 * upload after the same checks as an upload (key, extension, size limit, checksum format) and
 * signs one URL per part with the part's sha256, which the store enforces; the client PUTs the
 * parts (in any order, again after a dropped connection: status() lists what the store has), then
 * asks the service to complete. Completion checks every part, has the store assemble the object,
 * reads it back through the upload path's checks (the declared size and sha256, the
 * magic-byte sniffer and the executable scan; memory bounded by the stream, not the object), and only
 * then records the index row, once, under the key's lock (IndexSync): session-verify.ts. A refusal
 * removes the object. Sessions not completed within UPLOAD_SESSION_TTL are aborted by sweep(), which
 * drops their parts (session-sweep.ts).
 */
export class UploadSessions {
  readonly #core: CoreContext;
  readonly #sync: IndexSync;
  readonly #table: UploadSessionTable | undefined;
  readonly #timer: PeriodicTask;

  constructor(core: CoreContext, deps: { sync: IndexSync; table: UploadSessionTable | undefined }) {
    this.#core = core;
    this.#sync = deps.sync;
    this.#table = deps.table;
    this.#timer = new PeriodicTask(
      "upload session sweep",
      async () => {
        const aborted = await this.sweep();
        if (aborted > 0) core.log.info({ aborted }, "upload session sweep");
      },
      core.log,
    );
  }

  async create(req: SessionRequest): Promise<UploadSession> {
    const { parts, table } = this.#capable();
    const { settings, buckets } = this.#core;
    checkSessionFields(req);
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
    const checked = checkPartRequests(requested, row.partCount);
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
    row = stillOpen(row);
    const now = new Date();
    if (!(await table.claim(id, now, new Date(now.getTime() - CLAIM_LEASE_MS)))) {
      const again = await this.#own(id, owner);
      if (again.state === "completed") return infoOf(again);
      throw busy("is being completed by another request; ask again in a moment", again.state);
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
      const outcome = await settleAssembled(
        { core: this.#core, sync: this.#sync, table },
        row,
        stored,
        signal,
      );
      finished = true;
      if ("refused" in outcome) throw outcome.refused;
      return outcome.info;
    } finally {
      if (!finished) await table.release(id).catch(() => {});
    }
  }

  /** Aborts an open session and drops its parts; aborting an aborted session is a no-op. */
  async abort(id: string, owner: string): Promise<void> {
    const { table } = this.#capable();
    const row = await this.#own(id, owner);
    if (row.state === "aborted") return;
    if (row.state === "completed") throw busy("is completed: delete the object instead", "completed");
    const now = new Date();
    if (!(await table.claim(id, now, new Date(now.getTime() - CLAIM_LEASE_MS)))) {
      throw busy("is being completed and cannot be aborted now", "open");
    }
    try {
      await this.#drop(row);
    } catch (err) {
      await table.release(id).catch(() => {});
      throw err;
    }
  }

  /** Aborts open sessions past their expiry (UPLOAD_SESSION_TTL); returns how many (session-sweep.ts). */
  async sweep(now: Date = new Date()): Promise<number> {
    const table = this.#table;
    if (!table || !this.#core.store.multipartSessions) return 0;
    const staleBefore = new Date(now.getTime() - CLAIM_LEASE_MS);
    return sweepExpired({ table, drop: (row) => this.#drop(row), log: this.#core.log, now, staleBefore });
  }

  /** Upload ids of open sessions in a bucket: reconcile leaves their multipart uploads alone. */
  async openUploadIds(bucket: string): Promise<Set<string>> {
    return this.#table ? this.#table.openUploadIds(bucket) : new Set();
  }

  /** Sweeps every UPLOAD_SESSION_SWEEP_INTERVAL (one sweep at a time); stop() ends it. */
  start(): void {
    if (!this.#table) return;
    this.#timer.start(this.#core.settings.uploadSessions?.sweepIntervalSeconds ?? 0);
  }

  stop(): void {
    this.#timer.stop();
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
    if (!row || row.owner !== owner) throw unknownSession(id);
    return row;
  }

  async #openSession(id: string, owner: string): Promise<SessionRow> {
    return stillOpen(await this.#own(id, owner));
  }

  #capable(): { parts: MultipartSessions; table: UploadSessionTable } {
    const parts = this.#core.store.multipartSessions;
    if (!parts) throw noMultipartBackend();
    if (!this.#table) throw noSessionTable();
    return { parts, table: this.#table };
  }
}
