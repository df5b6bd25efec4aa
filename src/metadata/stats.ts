import { sql } from "kysely";
import type { Database } from "./database.ts";
import { guardDb } from "./guard.ts";

/**
 * Read-only usage figures from the metadata index (no object store listing): every statement is a
 * range scan of one bucket's rows on the primary key (bucket, key, version_id), grouped in one
 * pass, so a bucket costs one scan however many prefixes it has.
 */

/** Objects and bytes of the versions created in a window. */
export interface Growth {
  objects: number;
  bytes: number;
}

export interface PrefixUsage {
  /** Depth-1 prefix ("models/"), or "" for the keys at the top of the bucket. */
  prefix: string;
  /** Current objects (latest versions) and their bytes. */
  objects: number;
  bytes: number;
  /** Every version the index holds (current and noncurrent), and the bytes of the noncurrent ones. */
  versions: number;
  noncurrentBytes: number;
  /** Versions created in the last 24 hours and the last 7 days. */
  growthDay: Growth;
  growthWeek: Growth;
}

export interface LargeObject {
  key: string;
  versionId: string;
  size: number;
  createdAt: Date;
}

type PrefixRow = {
  prefix: string;
  objects: string | number;
  bytes: string | number;
  versions: string | number;
  noncurrent_bytes: string | number;
  day_objects: string | number;
  day_bytes: string | number;
  week_objects: string | number;
  week_bytes: string | number;
};

const DAY_MS = 86_400_000;

export class IndexStats {
  readonly #db: Database;

  constructor(db: Database) {
    this.#db = db;
  }

  /** Usage per depth-1 prefix of a bucket, prefixes in key order; [] for a bucket the index does not know. */
  async prefixes(bucket: string, now = new Date()): Promise<PrefixUsage[]> {
    const day = new Date(now.getTime() - DAY_MS);
    const week = new Date(now.getTime() - 7 * DAY_MS);
    // strpos/substr count code points, so the prefix keeps whole characters; "C" keeps byte order.
    const { rows } = await this.#guard(() =>
      sql<PrefixRow>`
        select p.prefix,
          count(*) filter (where p.is_latest) as objects,
          coalesce(sum(p.size) filter (where p.is_latest), 0) as bytes,
          count(*) as versions,
          coalesce(sum(p.size) filter (where not p.is_latest), 0) as noncurrent_bytes,
          count(*) filter (where p.created_at >= ${day}) as day_objects,
          coalesce(sum(p.size) filter (where p.created_at >= ${day}), 0) as day_bytes,
          count(*) filter (where p.created_at >= ${week}) as week_objects,
          coalesce(sum(p.size) filter (where p.created_at >= ${week}), 0) as week_bytes
        from (
          select (case when strpos(key, '/') > 0 then substr(key, 1, strpos(key, '/')) else '' end)
                   collate "C" as prefix,
                 size, is_latest, created_at
          from object_versions where bucket = ${bucket}
        ) p
        group by p.prefix
        order by p.prefix`.execute(this.#db),
    );
    return rows.map((r) => ({
      prefix: r.prefix,
      objects: Number(r.objects),
      bytes: Number(r.bytes),
      versions: Number(r.versions),
      noncurrentBytes: Number(r.noncurrent_bytes),
      growthDay: { objects: Number(r.day_objects), bytes: Number(r.day_bytes) },
      growthWeek: { objects: Number(r.week_objects), bytes: Number(r.week_bytes) },
    }));
  }

  /** The `limit` largest current objects of a bucket (under `prefix` when given), largest first. */
  async largest(bucket: string, limit: number, prefix?: string): Promise<LargeObject[]> {
    let q = this.#db
      .selectFrom("object_versions")
      .select(["key", "version_id", "size", "created_at"])
      .where("bucket", "=", bucket)
      .where("is_latest", "=", true);
    if (prefix) q = q.where("key", "like", `${prefix.replace(/[\\%_]/g, "\\$&")}%`);
    const rows = await this.#guard(() => q.orderBy("size", "desc").orderBy("key").limit(limit).execute());
    return rows.map((r) => ({
      key: r.key,
      versionId: r.version_id,
      size: Number(r.size),
      createdAt: new Date(r.created_at),
    }));
  }

  #guard<T>(work: () => Promise<T>): Promise<T> {
    return guardDb(work, "The metadata database could not compute usage statistics.");
  }
}
