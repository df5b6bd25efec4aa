import type { Database } from "../../metadata/database.ts";

/**
 * The temp store's own table (migration temp_expiries): when each object it wrote expires, so the
 * sweep reads only what is due. A hint, not the authority: the object's `expires-at` metadata is,
 * and the sweep checks it before deleting anything.
 */

type TempExpiriesTable = {
  bucket: string;
  key: string;
  expires_at: Date;
  /** int8 comes back from `pg` as a string. */
  size: string | number;
};

type Tables = { temp_expiries: TempExpiriesTable };

const tables = (db: Database) => db.withTables<Tables>();

export interface DueObject {
  key: string;
  expiresAt: Date;
  size: number;
}

export class Expiries {
  readonly #db: ReturnType<typeof tables>;
  readonly #bucket: string;

  constructor(db: Database, bucket: string) {
    this.#db = tables(db);
    this.#bucket = bucket;
  }

  async record(key: string, expiresAt: Date, size: number): Promise<void> {
    await this.#db
      .insertInto("temp_expiries")
      .values({ bucket: this.#bucket, key, expires_at: expiresAt, size })
      .onConflict((oc) => oc.columns(["bucket", "key"]).doUpdateSet({ expires_at: expiresAt, size }))
      .execute();
  }

  /** Due records in (expires_at, key) order, after `after` (keyset paging: a dry run removes none). */
  async due(now: Date, limit: number, after?: DueObject): Promise<DueObject[]> {
    let q = this.#db
      .selectFrom("temp_expiries")
      .select(["key", "expires_at", "size"])
      .where("bucket", "=", this.#bucket)
      .where("expires_at", "<=", now);
    if (after) {
      q = q.where((eb) =>
        eb.or([
          eb("expires_at", ">", after.expiresAt),
          eb.and([eb("expires_at", "=", after.expiresAt), eb("key", ">", after.key)]),
        ]),
      );
    }
    const rows = await q.orderBy("expires_at").orderBy("key").limit(limit).execute();
    return rows.map((r) => ({ key: r.key, expiresAt: r.expires_at, size: Number(r.size) }));
  }

  /** Drops a record unless a newer upload has rewritten it meanwhile. */
  async drop(item: DueObject): Promise<void> {
    await this.#db
      .deleteFrom("temp_expiries")
      .where("bucket", "=", this.#bucket)
      .where("key", "=", item.key)
      .where("expires_at", "=", item.expiresAt)
      .execute();
  }
}
