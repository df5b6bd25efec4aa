import type { Selectable } from "kysely";
import { StorageError } from "../errors.ts";
import type { Database } from "../metadata/database.ts";
import { guardDb } from "../metadata/guard.ts";
import { redactTokens } from "./redact.ts";
import { type AuditEventsTable, type SecurityDatabase, securityDb } from "./schema.ts";

/**
 * The audit trail: one append-only row per mutating or refused call, from the service itself
 * (source "service") and from MinIO's audit webhook (source "minio"). The table refuses UPDATE and
 * DELETE (a trigger, migration 0002), and this module only ever inserts and reads.
 */

export type AuditSource = "service" | "minio";

export interface AuditEvent {
  /** Defaults to the database's clock (one clock for every instance). Set it only when importing. */
  time?: Date;
  source?: AuditSource;
  keyId?: string | null;
  service?: string | null;
  /** "http", "grpc", "cli" or "s3" (MinIO events). */
  protocol?: string | null;
  /** What was attempted: "upload", "delete", "keys.create", "s3:PutObject", ... */
  action: string;
  bucket?: string | null;
  key?: string | null;
  versionId?: string | null;
  /** "OK", or the error code the caller got (PERMISSION_DENIED, UNAUTHENTICATED, ...). */
  result: string;
  bytes?: number | null;
  requestId?: string | null;
  clientAddress?: string | null;
  /** Small extra facts; never secrets (tokens in strings are redacted anyway). */
  details?: Record<string, unknown>;
}

export interface AuditRecord {
  id: number;
  time: Date;
  source: AuditSource;
  keyId: string | null;
  service: string | null;
  protocol: string | null;
  action: string;
  bucket: string | null;
  key: string | null;
  versionId: string | null;
  result: string;
  bytes: number | null;
  requestId: string | null;
  clientAddress: string | null;
  details: Record<string, unknown>;
}

export interface AuditQuery {
  since?: Date;
  until?: Date;
  keyId?: string;
  bucket?: string;
  source?: AuditSource;
  /** Default 1000, at most 10 000. */
  limit?: number;
  /** Only records with a larger id (paging in export). */
  afterId?: number;
}

export const MAX_QUERY_LIMIT = 10_000;
const TEXT_LIMIT = 2048;

const clip = (value: string | null | undefined): string | null =>
  value === undefined || value === null ? null : redactTokens(value).slice(0, TEXT_LIMIT);

/** A stored row as the drivers return it: PGlite may hand back jsonb as text. */
type Row = Omit<Selectable<AuditEventsTable>, "details"> & { details: Record<string, unknown> | string };

export const toAuditRecord = (r: Row): AuditRecord => ({
  id: Number(r.id),
  time: new Date(r.time),
  source: r.source,
  keyId: r.key_id,
  service: r.service,
  protocol: r.protocol,
  action: r.action,
  bucket: r.bucket,
  key: r.key,
  versionId: r.version_id,
  result: r.result,
  bytes: r.bytes === null ? null : Number(r.bytes),
  requestId: r.request_id,
  clientAddress: r.client_address,
  details: typeof r.details === "string" ? (JSON.parse(r.details) as Record<string, unknown>) : r.details,
});

function toRow(e: AuditEvent) {
  if (!e.action || !e.result) {
    throw new StorageError("INVALID_ARGUMENT", "An audit event needs an action and a result.", {
      field: "action",
    });
  }
  return {
    ...(e.time ? { time: e.time } : {}),
    source: e.source ?? "service",
    key_id: clip(e.keyId),
    service: clip(e.service),
    protocol: clip(e.protocol),
    action: clip(e.action) ?? "",
    bucket: clip(e.bucket),
    key: clip(e.key),
    version_id: clip(e.versionId),
    result: clip(e.result) ?? "",
    bytes:
      e.bytes === undefined || e.bytes === null || !Number.isFinite(e.bytes) ? null : Math.trunc(e.bytes),
    request_id: clip(e.requestId),
    client_address: clip(e.clientAddress),
    details: redactTokens(JSON.stringify(e.details ?? {})),
  };
}

type AuditRow = ReturnType<typeof toRow>;

interface Waiting {
  row: AuditRow;
  resolve: () => void;
  reject: (err: unknown) => void;
}

/** Rows per INSERT of the group commit (keeps statements and their parameter lists bounded). */
const MAX_GROUP = 500;

export class AuditLog {
  readonly #db: SecurityDatabase;
  /** Records that arrived while an INSERT was running; the next INSERT writes them together. */
  #waiting: Waiting[] = [];
  #writing = false;

  constructor(db: Database) {
    this.#db = securityDb(db);
  }

  /**
   * Stores one event; resolves once it is in the table. Group commit: while one INSERT runs, later
   * records queue and go in the next INSERT together, so a burst of calls costs a few statements
   * instead of one each. Nothing waits on a timer, and nothing is acknowledged before it is stored.
   */
  record(event: AuditEvent): Promise<void> {
    let row: AuditRow;
    try {
      row = toRow(event);
    } catch (err) {
      return Promise.reject(err);
    }
    return new Promise<void>((resolve, reject) => {
      this.#waiting.push({ row, resolve, reject });
      if (!this.#writing) void this.#drain();
    });
  }

  async #drain(): Promise<void> {
    this.#writing = true;
    try {
      while (this.#waiting.length > 0) {
        const group = this.#waiting.splice(0, MAX_GROUP);
        try {
          await this.#insert(group.map((w) => w.row));
          for (const w of group) w.resolve();
        } catch (err) {
          if (group.length === 1) {
            group[0]?.reject(err);
            continue;
          }
          // One bad row must not cost the others their record: retry them one by one.
          for (const w of group) await this.#insert([w.row]).then(w.resolve, w.reject);
        }
      }
    } finally {
      this.#writing = false;
    }
  }

  /** Inserts all events in one statement (all or nothing). */
  async recordMany(events: readonly AuditEvent[]): Promise<void> {
    if (events.length === 0) return;
    await this.#insert(events.map(toRow));
  }

  #insert(rows: AuditRow[]): Promise<unknown> {
    return this.#guard(() =>
      this.#db
        .insertInto("audit_events")
        .values(rows as never)
        .execute(),
    );
  }

  /** Records in the order they were written (oldest first), filtered, at most `limit`. */
  async query(q: AuditQuery = {}): Promise<AuditRecord[]> {
    const limit = q.limit ?? 1000;
    if (!Number.isSafeInteger(limit) || limit < 1 || limit > MAX_QUERY_LIMIT) {
      throw new StorageError("INVALID_ARGUMENT", `The limit must be from 1 to ${MAX_QUERY_LIMIT}.`, {
        field: "limit",
      });
    }
    const rows = await this.#guard(() => {
      let s = this.#db.selectFrom("audit_events").selectAll();
      if (q.since) s = s.where("time", ">=", q.since);
      if (q.until) s = s.where("time", "<", q.until);
      if (q.keyId) s = s.where("key_id", "=", q.keyId);
      if (q.bucket) s = s.where("bucket", "=", q.bucket);
      if (q.source) s = s.where("source", "=", q.source);
      if (q.afterId !== undefined) s = s.where("id", ">", q.afterId);
      return s.orderBy("id").limit(limit).execute();
    });
    return rows.map((r) => toAuditRecord(r as Row));
  }

  #guard<T>(work: () => Promise<T>): Promise<T> {
    return guardDb(work, "The audit trail could not be read or written.");
  }
}
