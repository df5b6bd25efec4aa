import { sql } from "kysely";
import type { Database } from "./database.ts";
import { guardDb } from "./guard.ts";
import { decodeCursor, encodeCursor, likePrefix } from "./listing.ts";

export interface ObjectRecord {
  bucket: string;
  key: string;
  versionId: string;
  size: number;
  sha256: string;
  etag: string;
  contentType: string;
  metadata: Record<string, string>;
  owner: string;
  isLatest: boolean;
  createdAt: Date;
  updatedAt: Date;
}

export type NewObjectVersion = Omit<ObjectRecord, "isLatest" | "createdAt" | "updatedAt">;

export interface IndexListOptions {
  prefix?: string;
  delimiter?: string;
  cursor?: string;
  limit: number;
}

export interface IndexListPage {
  objects: ObjectRecord[];
  prefixes: string[];
  nextCursor?: string;
}

type Row = {
  bucket: string;
  key: string;
  version_id: string;
  size: string | number;
  sha256: string;
  etag: string;
  content_type: string;
  metadata: Record<string, string>;
  owner: string;
  is_latest: boolean;
  created_at: Date;
  updated_at: Date;
};

const toRecord = (r: Row): ObjectRecord => ({
  bucket: r.bucket,
  key: r.key,
  versionId: r.version_id,
  size: Number(r.size),
  sha256: r.sha256,
  etag: r.etag,
  contentType: r.content_type,
  metadata: r.metadata ?? {},
  owner: r.owner,
  isLatest: r.is_latest,
  createdAt: new Date(r.created_at),
  updatedAt: new Date(r.updated_at),
});

/**
 * The metadata index: one row per object version. Only the latest version of a key has
 * is_latest; a delete marker leaves every row of the key non-latest (the versions still exist).
 */
export class MetadataRepository {
  readonly #db: Database;

  constructor(db: Database) {
    this.#db = db;
  }

  /**
   * Records a new version as the latest. The "null" version (unversioned buckets) is replaced in place.
   * One statement (demote the old latest in a CTE, then upsert): atomic on its own, and one round
   * trip instead of four, which is most of the index's cost per small upload. The CTE skips the row
   * being upserted, because one statement may not change a row twice.
   */
  async recordVersion(v: NewObjectVersion): Promise<ObjectRecord> {
    const now = new Date();
    const values = {
      bucket: v.bucket,
      key: v.key,
      version_id: v.versionId,
      size: v.size,
      sha256: v.sha256,
      etag: v.etag,
      content_type: v.contentType,
      metadata: JSON.stringify(v.metadata),
      owner: v.owner,
      is_latest: true,
      created_at: now,
      updated_at: now,
    };
    return this.#guard(async () => {
      const row = await this.#db
        .with("demoted", (db) =>
          db
            .updateTable("object_versions")
            .set({ is_latest: false, updated_at: now })
            .where("bucket", "=", v.bucket)
            .where("key", "=", v.key)
            .where("is_latest", "=", true)
            .where("version_id", "<>", v.versionId),
        )
        .insertInto("object_versions")
        .values(values)
        .onConflict((oc) => oc.columns(["bucket", "key", "version_id"]).doUpdateSet({ ...values }))
        .returningAll()
        .executeTakeFirstOrThrow();
      return toRecord(row as Row);
    });
  }

  /** The given version, or the latest one when versionId is undefined. */
  async find(bucket: string, key: string, versionId?: string): Promise<ObjectRecord | undefined> {
    return this.#guard(async () => {
      let q = this.#db
        .selectFrom("object_versions")
        .selectAll()
        .where("bucket", "=", bucket)
        .where("key", "=", key);
      q = versionId === undefined ? q.where("is_latest", "=", true) : q.where("version_id", "=", versionId);
      const row = await q.executeTakeFirst();
      return row ? toRecord(row as Row) : undefined;
    });
  }

  /** Removes one version; if it was the latest, the newest remaining version becomes latest (as in S3). */
  async removeVersion(bucket: string, key: string, versionId: string): Promise<ObjectRecord | undefined> {
    return this.#guard(() =>
      this.#db.transaction().execute(async (tx) => {
        const removed = await tx
          .deleteFrom("object_versions")
          .where("bucket", "=", bucket)
          .where("key", "=", key)
          .where("version_id", "=", versionId)
          .returningAll()
          .executeTakeFirst();
        if (removed?.is_latest) {
          await sql`
            update object_versions set is_latest = true, updated_at = now()
            where bucket = ${bucket} and key = ${key} and version_id = (
              select version_id from object_versions where bucket = ${bucket} and key = ${key}
              order by created_at desc limit 1)`.execute(tx);
        }
        return removed ? toRecord(removed as Row) : undefined;
      }),
    );
  }

  /** A delete marker now hides the key: no version is latest any more. */
  async markDeleted(bucket: string, key: string): Promise<void> {
    await this.#guard(() =>
      this.#db
        .updateTable("object_versions")
        .set({ is_latest: false, updated_at: new Date() })
        .where("bucket", "=", bucket)
        .where("key", "=", key)
        .execute(),
    );
  }

  /** Latest versions under a prefix, in byte order of key, with S3-style common prefixes for a delimiter. */
  async list(bucket: string, options: IndexListOptions): Promise<IndexListPage> {
    const prefix = options.prefix ?? "";
    const after = options.cursor ? decodeCursor(options.cursor) : "";
    const limit = options.limit;
    return this.#guard(async () => {
      if (!options.delimiter) {
        const rows = await this.#db
          .selectFrom("object_versions")
          .selectAll()
          .where("bucket", "=", bucket)
          .where("is_latest", "=", true)
          .where(sql<boolean>`key like ${likePrefix(prefix)} escape '\\'`)
          .where("key", ">", after)
          .orderBy("key")
          .limit(limit + 1)
          .execute();
        const page = rows.slice(0, limit).map((r) => toRecord(r as Row));
        const last = page.at(-1);
        return {
          objects: page,
          prefixes: [],
          ...(rows.length > limit && last ? { nextCursor: encodeCursor(last.key) } : {}),
        };
      }
      const start = prefix.length + 1;
      const { rows } = await sql<{ entry: string; is_prefix: boolean }>`
        select entry, bool_or(is_prefix) as is_prefix from (
          select case when strpos(substr(key, ${start}), ${options.delimiter}) > 0
                 then substr(key, 1, ${prefix.length} + strpos(substr(key, ${start}), ${options.delimiter}) + ${options.delimiter.length} - 1)
                 else key end collate "C" as entry,
                 strpos(substr(key, ${start}), ${options.delimiter}) > 0 as is_prefix
          from object_versions
          where bucket = ${bucket} and is_latest and key like ${likePrefix(prefix)} escape '\\'
        ) entries
        where entry > ${after}
        group by entry order by entry limit ${limit + 1}`.execute(this.#db);
      const page = rows.slice(0, limit);
      const keys = page.filter((r) => !r.is_prefix).map((r) => r.entry);
      const objects =
        keys.length === 0
          ? []
          : (
              await this.#db
                .selectFrom("object_versions")
                .selectAll()
                .where("bucket", "=", bucket)
                .where("is_latest", "=", true)
                .where("key", "in", keys)
                .orderBy("key")
                .execute()
            ).map((r) => toRecord(r as Row));
      const last = page.at(-1);
      return {
        objects,
        prefixes: page.filter((r) => r.is_prefix).map((r) => r.entry),
        ...(rows.length > limit && last ? { nextCursor: encodeCursor(last.entry) } : {}),
      };
    });
  }

  /** Every latest row of a bucket, in key order, a page at a time (for reconciliation). */
  async *latestRows(bucket: string, pageSize = 1000): AsyncGenerator<ObjectRecord> {
    let cursor: string | undefined;
    do {
      const page = await this.list(bucket, { limit: pageSize, ...(cursor ? { cursor } : {}) });
      yield* page.objects;
      cursor = page.nextCursor;
    } while (cursor);
  }

  #guard<T>(work: () => Promise<T>): Promise<T> {
    return guardDb(work, "The metadata database could not complete the request.");
  }
}
