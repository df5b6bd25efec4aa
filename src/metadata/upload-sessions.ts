import type { Database } from "./database.ts";
import { guardDb } from "./guard.ts";

/** The rows of migration 0007_upload_sessions (see core/upload-sessions.ts for what they mean). */
export interface SessionRow {
  id: string;
  bucket: string;
  key: string;
  uploadId: string;
  size: number;
  sha256: string;
  partSize: number;
  partCount: number;
  contentType: string;
  metadata: Record<string, string>;
  owner: string;
  state: "open" | "completed" | "aborted";
  claimedAt: Date | null;
  versionId: string | null;
  etag: string | null;
  createdAt: Date;
  expiresAt: Date;
  completedAt: Date | null;
}

type Table = {
  id: string;
  bucket: string;
  key: string;
  upload_id: string;
  /** int8 comes back from `pg` as a string. */
  size: string | number;
  sha256: string;
  part_size: string | number;
  part_count: number;
  content_type: string;
  metadata: Record<string, string> | string;
  owner: string;
  state: SessionRow["state"];
  claimed_at: Date | null;
  version_id: string | null;
  etag: string | null;
  created_at: Date;
  expires_at: Date;
  completed_at: Date | null;
};

const tables = (db: Database) => db.withTables<{ upload_sessions: Table }>();

const toRow = (r: Table): SessionRow => ({
  id: r.id,
  bucket: r.bucket,
  key: r.key,
  uploadId: r.upload_id,
  size: Number(r.size),
  sha256: r.sha256,
  partSize: Number(r.part_size),
  partCount: r.part_count,
  contentType: r.content_type,
  metadata: (typeof r.metadata === "string" ? JSON.parse(r.metadata) : r.metadata) ?? {},
  owner: r.owner,
  state: r.state,
  claimedAt: r.claimed_at ? new Date(r.claimed_at) : null,
  versionId: r.version_id,
  etag: r.etag,
  createdAt: new Date(r.created_at),
  expiresAt: new Date(r.expires_at),
  completedAt: r.completed_at ? new Date(r.completed_at) : null,
});

const UNAVAILABLE = "The upload session table could not be reached.";

/** Upload sessions in PostgreSQL: created, claimed for completion, completed or aborted. */
export class UploadSessionTable {
  readonly #db: ReturnType<typeof tables>;

  constructor(db: Database) {
    this.#db = tables(db);
  }

  async insert(
    row: Omit<SessionRow, "state" | "claimedAt" | "versionId" | "etag" | "completedAt">,
  ): Promise<void> {
    await guardDb(
      () =>
        this.#db
          .insertInto("upload_sessions")
          .values({
            id: row.id,
            bucket: row.bucket,
            key: row.key,
            upload_id: row.uploadId,
            size: row.size,
            sha256: row.sha256,
            part_size: row.partSize,
            part_count: row.partCount,
            content_type: row.contentType,
            metadata: JSON.stringify(row.metadata),
            owner: row.owner,
            state: "open",
            claimed_at: null,
            version_id: null,
            etag: null,
            created_at: row.createdAt,
            expires_at: row.expiresAt,
            completed_at: null,
          })
          .execute(),
      UNAVAILABLE,
    );
  }

  async get(id: string): Promise<SessionRow | undefined> {
    const row = await guardDb(
      () => this.#db.selectFrom("upload_sessions").selectAll().where("id", "=", id).executeTakeFirst(),
      UNAVAILABLE,
    );
    return row ? toRow(row) : undefined;
  }

  /**
   * Claims an open session for one completion: true for exactly one of any number of concurrent
   * callers. A claim older than `staleBefore` (its completer died) can be taken over.
   */
  async claim(id: string, now: Date, staleBefore: Date): Promise<boolean> {
    const result = await guardDb(
      () =>
        this.#db
          .updateTable("upload_sessions")
          .set({ claimed_at: now })
          .where("id", "=", id)
          .where("state", "=", "open")
          .where((eb) => eb.or([eb("claimed_at", "is", null), eb("claimed_at", "<", staleBefore)]))
          .executeTakeFirst(),
      UNAVAILABLE,
    );
    return Number(result.numUpdatedRows) === 1;
  }

  /** Gives a claim back (the completion was refused before the store made the object). */
  async release(id: string): Promise<void> {
    await guardDb(
      () =>
        this.#db
          .updateTable("upload_sessions")
          .set({ claimed_at: null })
          .where("id", "=", id)
          .where("state", "=", "open")
          .execute(),
      UNAVAILABLE,
    );
  }

  /** The store has made the object: a completion interrupted from here resumes at verification. */
  async noteStored(id: string, stored: { versionId: string; etag: string }): Promise<void> {
    await guardDb(
      () =>
        this.#db
          .updateTable("upload_sessions")
          .set({ version_id: stored.versionId, etag: stored.etag })
          .where("id", "=", id)
          .execute(),
      UNAVAILABLE,
    );
  }

  async finish(id: string, state: "completed" | "aborted", now: Date): Promise<void> {
    await guardDb(
      () =>
        this.#db
          .updateTable("upload_sessions")
          .set({ state, completed_at: now, claimed_at: null })
          .where("id", "=", id)
          .execute(),
      UNAVAILABLE,
    );
  }

  /** Open sessions past their expiry and not being completed right now, oldest first. */
  async expired(now: Date, staleBefore: Date, limit: number): Promise<SessionRow[]> {
    const rows = await guardDb(
      () =>
        this.#db
          .selectFrom("upload_sessions")
          .selectAll()
          .where("state", "=", "open")
          .where("expires_at", "<=", now)
          .where((eb) => eb.or([eb("claimed_at", "is", null), eb("claimed_at", "<", staleBefore)]))
          .orderBy("expires_at")
          .limit(limit)
          .execute(),
      UNAVAILABLE,
    );
    return rows.map(toRow);
  }

  /** Upload ids of the open sessions in a bucket (reconcile leaves their multipart uploads alone). */
  async openUploadIds(bucket: string): Promise<Set<string>> {
    const rows = await guardDb(
      () =>
        this.#db
          .selectFrom("upload_sessions")
          .select("upload_id")
          .where("bucket", "=", bucket)
          .where("state", "=", "open")
          .execute(),
      UNAVAILABLE,
    );
    return new Set(rows.map((r) => r.upload_id));
  }
}
