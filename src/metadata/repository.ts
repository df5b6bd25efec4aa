import { sql } from "kysely";
import { NULL_VERSION } from "../backends/object-store.ts";
import { decodeCursor, encodeCursor } from "../cursor.ts";
import { type Database, sharedPool } from "./database.ts";
import { guardDb } from "./guard.ts";
import { lockKey, promoteNewest, type StoreCurrent, settleOn, upsertVersion } from "./latest.ts";
import { charLength, delimiterEnd, folderResume, prefixEnd } from "./listing.ts";
import {
  type DeletedKey,
  dropStaleNullRows,
  hideKeys,
  lockKeys,
  removeNullVersions,
} from "./settle-deletes.ts";

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

export type { StoreCurrent } from "./latest.ts";
export type { DeletedKey } from "./settle-deletes.ts";

/** A latest row as a whole-bucket pass sees it (MetadataRepository.latestEntries). */
export type IndexEntry = Pick<ObjectRecord, "key" | "versionId" | "size" | "etag">;

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
   * Records a version, keeping the index's one invariant under any number of concurrent writers,
   * on any number of instances: each key has at most one latest row, and once its writers are done
   * that row is the object the store serves as current (same version, ETag and bytes).
   *
   * Why not commit order: the store orders versions itself (MinIO by its own modification time,
   * an unversioned key by whichever PUT completed last), and the index hears of them later, in
   * any order. Nor the store's timestamps: a PUT answers with an ETag and a version id only, a
   * HEAD's Last-Modified has one-second resolution, and MinIO's version ids are random UUIDs, so
   * none of them can order two writes made within the same second.
   *
   * So each record asks the store instead, under a per-key lock (a transaction-scoped advisory
   * lock, which PGlite has too): `current` reports what the store serves as current *now*, after
   * this version was stored, and the row follows that answer:
   * - the current object is this version (for "null" versions: has this ETag): every other row of
   *   the key is demoted and this one is written as latest;
   * - another version is current: this row is written as non-latest history and the current
   *   version's row, if the index has it yet, is made the only latest;
   * - a "null" version that is no longer current was overwritten (or deleted): its row is not
   *   written at all, since its bytes are gone; the overwriting writer records its own.
   * Why this converges: every writer asks only after its object is stored, and the locked sections
   * run one at a time, so the last of them asks after every write has completed and sees the final
   * current object C. C's own writer asked after storing C, when C was already current (a store
   * never makes an older object current again without a delete), so it wrote C as latest; every
   * writer after it saw C too and left it latest.
   *
   * Costs one HEAD per write, made while the transaction holds the lock and a database connection
   * (on PGlite the only one, so embedded index writes run one HEAD at a time), and four round trips
   * to the database (begin, lock, write, commit); recordWrite saves the HEAD for small writes.
   * Without `current` (reconcile adopting what a HEAD just returned) the version is taken to be the
   * current one.
   * Returns the row written, or undefined when an overwritten "null" version was not recorded.
   */
  async recordVersion(
    v: NewObjectVersion,
    current?: () => Promise<StoreCurrent>,
  ): Promise<ObjectRecord | undefined> {
    return this.#guard(() =>
      this.#db.transaction().execute(async (tx) => {
        await lockKey(tx, v.bucket, v.key);
        const now = new Date();
        const state = current ? await current() : { versionId: v.versionId, etag: v.etag };
        const isCurrent =
          typeof state === "object" &&
          state.versionId === v.versionId &&
          (v.versionId !== NULL_VERSION || state.etag === v.etag);
        if (!isCurrent && v.versionId === NULL_VERSION) return undefined;
        if (!isCurrent && typeof state === "object")
          await settleOn(tx, v.bucket, v.key, state.versionId, now);
        // The common case (this version is current) demotes the others and writes its row in one
        // statement: one round trip fewer while the lock and the connection are held.
        const row = await upsertVersion(tx, v, isCurrent, now);
        return toRecord(row as Row);
      }),
    );
  }

  /**
   * Whether transactions run side by side here (a PostgreSQL pool), so that one may hold its key's
   * lock across a store write (recordWrite). PGlite has one connection: a write held there would
   * make every index operation in the process wait for one store PUT at a time.
   */
  get writesUnderLock(): boolean {
    return sharedPool(this.#db) !== undefined;
  }

  /**
   * Stores and records a version in one locked section: `write` runs while the key's lock is held,
   * stores the object and returns its row (or undefined: nothing to record), and the row is written
   * as latest without asking the store, so the HEAD that recordVersion makes is saved.
   *
   * The invariant's argument (recordVersion) still holds. If this object is the store's final
   * current one, every other store write landed before its PUT, so at its upsert, in the same
   * section, it was current; every section after it belongs to a writer that stored earlier and
   * asks the store, which names this object, so it stays latest. If a later store write replaced it,
   * that writer's own section comes later (writers under the lock store inside it, the others
   * before they lock) and settles the key. Only for small bodies already in memory (WritePath): the
   * lock and a pooled connection are held for one short PUT, never while a client sends.
   */
  async recordWrite(
    bucket: string,
    key: string,
    write: () => Promise<NewObjectVersion | undefined>,
  ): Promise<ObjectRecord | undefined> {
    return this.#guard(() =>
      this.#db.transaction().execute(async (tx) => {
        await lockKey(tx, bucket, key);
        const v = await write();
        if (!v) return undefined;
        const row = await upsertVersion(tx, v, true, new Date());
        return toRecord(row as Row);
      }),
    );
  }

  /**
   * The given version, or the latest one when versionId is undefined. The unique index allows one
   * latest row per key; the order is a total one all the same, so a read never depends on a plan.
   */
  async find(bucket: string, key: string, versionId?: string): Promise<ObjectRecord | undefined> {
    return this.#guard(async () => {
      let q = this.#db
        .selectFrom("object_versions")
        .selectAll()
        .where("bucket", "=", bucket)
        .where("key", "=", key);
      q = versionId === undefined ? q.where("is_latest", "=", true) : q.where("version_id", "=", versionId);
      const row = await q
        .orderBy("created_at", "desc")
        .orderBy("version_id", "desc")
        .limit(1)
        .executeTakeFirst();
      return row ? toRecord(row as Row) : undefined;
    });
  }

  /** Removes one version; if it was the latest, the newest remaining version becomes latest (as in S3). */
  async removeVersion(bucket: string, key: string, versionId: string): Promise<ObjectRecord | undefined> {
    return this.#guard(() =>
      this.#db.transaction().execute(async (tx) => {
        await lockKey(tx, bucket, key);
        const removed = await tx
          .deleteFrom("object_versions")
          .where("bucket", "=", bucket)
          .where("key", "=", key)
          .where("version_id", "=", versionId)
          .returningAll()
          .executeTakeFirst();
        if (removed?.is_latest) await promoteNewest(tx, bucket, key);
        return removed ? toRecord(removed as Row) : undefined;
      }),
    );
  }

  /**
   * Drops the key's "null"-version row when it no longer describes the store's current object
   * (the object is gone, or another ETag is current), under the key's lock, so it never races a
   * writer recording the object that is current. Used after taking back an unversioned write whose
   * row could not be (or must not stay) recorded. Returns whether a row was dropped.
   */
  async dropStaleNullVersion(
    bucket: string,
    key: string,
    current: () => Promise<StoreCurrent>,
  ): Promise<boolean> {
    return this.#guard(() =>
      this.#db.transaction().execute(async (tx) => {
        await lockKey(tx, bucket, key);
        const state = await current();
        if (state === "other") return false;
        let q = tx
          .deleteFrom("object_versions")
          .where("bucket", "=", bucket)
          .where("key", "=", key)
          .where("version_id", "=", NULL_VERSION);
        if (state !== "absent") q = q.where("etag", "<>", state.etag);
        const removed = await q.returning("is_latest").executeTakeFirst();
        return removed !== undefined;
      }),
    );
  }

  /**
   * The index following a batch of deletes the store made (delete by prefix): per key, what
   * removeVersion(key, "null"), markDeleted or dropStaleNullVersion would do, in one transaction
   * and a few statements. Every key's lock is taken first, then `current` asks the store what it
   * serves now under these keys (key to ETag; a key left out is absent), and each key follows it:
   * - absent after a delete marker (versioned bucket): no row of the key is latest;
   * - absent after a plain delete: the "null" row goes (the newest remaining version becomes
   *   latest if it was the latest);
   * - present: someone wrote the key after the delete. Its writer records that object, asking the
   *   store under the key's lock (after this transaction, or before it, which is why the answer is
   *   asked for only once the locks are held); only a "null" row with another ETag is dropped.
   * A batch's keys hold their locks while the store answers, as one write's key does (recordVersion).
   */
  async settleDeletes(
    bucket: string,
    deleted: readonly DeletedKey[],
    current: () => Promise<ReadonlyMap<string, string>>,
  ): Promise<void> {
    if (deleted.length === 0) return;
    await this.#guard(() =>
      this.#db.transaction().execute(async (tx) => {
        await lockKeys(
          tx,
          bucket,
          deleted.map((d) => d.key),
        );
        const now = new Date();
        const present = await current();
        const gone = deleted.filter((d) => !present.has(d.key));
        const withMarker = gone.filter((d) => d.deleteMarker).map((d) => d.key);
        await hideKeys(tx, bucket, withMarker, now);
        await removeNullVersions(
          tx,
          bucket,
          gone.filter((d) => !d.deleteMarker).map((d) => d.key),
          now,
        );
        const rewritten = new Map(
          deleted.filter((d) => present.has(d.key)).map((d) => [d.key, present.get(d.key) ?? ""] as const),
        );
        await dropStaleNullRows(tx, bucket, rewritten);
      }),
    );
  }

  /** A delete marker now hides the key: no version is latest any more. */
  async markDeleted(bucket: string, key: string): Promise<void> {
    await this.#guard(() =>
      this.#db.transaction().execute(async (tx) => {
        await lockKey(tx, bucket, key);
        await tx
          .updateTable("object_versions")
          .set({ is_latest: false, updated_at: new Date() })
          .where("bucket", "=", bucket)
          .where("key", "=", key)
          .where("is_latest", "=", true)
          .execute();
      }),
    );
  }

  /**
   * Latest versions under a prefix, in byte order of key, with S3-style common prefixes for a
   * delimiter. Both shapes cost index seeks in proportion to the page, not to the keys below the
   * prefix (see listing.ts for the key ranges).
   */
  async list(bucket: string, options: IndexListOptions): Promise<IndexListPage> {
    const prefix = options.prefix ?? "";
    const cursor = options.cursor ? decodeCursor(options.cursor) : undefined;
    return this.#guard(() =>
      options.delimiter
        ? this.#listFolder(bucket, prefix, options.delimiter, cursor, options.limit)
        : this.#listRecursive(bucket, prefix, cursor, options.limit),
    );
  }

  /** One range scan of the latest-rows index: key in [prefix, prefixEnd(prefix)), after the cursor. */
  async #listRecursive(bucket: string, prefix: string, cursor: string | undefined, limit: number) {
    const end = prefixEnd(prefix);
    let q = this.#db
      .selectFrom("object_versions")
      .selectAll()
      .where("bucket", "=", bucket)
      .where("is_latest", "=", true)
      .where("key", ">=", prefix);
    if (end !== undefined && prefix !== "") q = q.where("key", "<", end);
    if (cursor !== undefined) q = q.where("key", ">", cursor);
    const rows = await q
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

  /**
   * A loose index scan: each step seeks to the first latest key at or after `lo`; a key with the
   * delimiter after the prefix is reported as its common prefix, and the next seek starts past
   * every key under that common prefix (listing.ts delimiterEnd), so a folder of a million keys
   * costs one seek. A run of keys without the delimiter is read in batches that double (1, 2, 4, ...
   * keys per seek), so a folder of files costs a few seeks, not one per key.
   * Estimates must stay page-sized, or the planner picks plans for the table's size: the walk's
   * LIMIT (without it, at 10 million rows, the rows were joined back with a sequential scan), and
   * each seek's constant inner LIMIT of a page (a LIMIT the planner cannot evaluate counts as a
   * tenth of the rows after `lo`: at 10 million rows the estimate passed jit_above_cost, and JIT
   * compilation took 250 ms of a root listing that runs in 1). The row join-back is a LATERAL with
   * LIMIT 1, so a common prefix skips its lookup instead of filtering one.
   */
  async #listFolder(
    bucket: string,
    prefix: string,
    delimiter: string,
    cursor: string | undefined,
    limit: number,
  ): Promise<IndexListPage> {
    const skip = delimiterEnd(delimiter);
    const lo = cursor === undefined ? prefix : folderResume(prefix, delimiter, cursor);
    if (lo === undefined) return { objects: [], prefixes: [] };
    const end = prefixEnd(prefix);
    const below = end !== undefined && prefix !== "" ? sql`and o.key < ${end}` : sql``;
    const plen = charLength(prefix);
    const { rows } = await sql<Row & { entry: string; is_prefix: boolean }>`
      with recursive walk (n, entry, is_prefix, lo, k) as (
        select 0::bigint, null::text collate "C", false, ${lo}::text collate "C", 1::bigint
        union all
        select w.n + b.i, b.entry, b.is_prefix, b.lo, b.k
        from walk w
        cross join lateral (
          select c.i,
            (case when c.at > 0 then substr(c.key, 1, ${plen} + c.at + ${charLength(delimiter)} - 1)
                  else c.key end) collate "C" as entry,
            c.at > 0 as is_prefix,
            (case when c.at > 0 then substr(c.key, 1, ${plen} + c.at - 1) || ${skip}
                  when c.next is null then c.key || chr(1) end) collate "C" as lo,
            (case when c.at > 0 then 1 else w.k * 2 end) as k
          from (
            select r.key, r.at, row_number() over byKey as i, lead(r.key) over byKey as next,
                   count(*) filter (where r.at > 0) over byKey as cuts
            from (
              select s.key, strpos(substr(s.key, ${plen + 1}), ${delimiter}) as at
              from (
                select o.key from object_versions o
                where o.bucket = ${bucket} and o.is_latest and o.key >= w.lo ${below}
                order by o.key limit ${limit + 1}
              ) s
              order by s.key limit least(w.k, ${limit + 1} - w.n)
            ) r
            window byKey as (order by r.key)
          ) c
          where c.cuts = 0 or (c.cuts = 1 and c.at > 0)
        ) b
        where w.lo is not null and w.n <= ${limit}
      )
      select o.*, w.entry, w.is_prefix
      from (select * from walk where n between 1 and ${limit + 1} order by n limit ${limit + 1}) w
      left join lateral (
        select * from object_versions v
        where not w.is_prefix and v.bucket = ${bucket} and v.is_latest and v.key = w.entry
        limit 1
      ) o on true
      order by w.n`.execute(this.#db);
    const page = rows.slice(0, limit);
    const last = page.at(-1);
    return {
      objects: page.filter((r) => !r.is_prefix).map((r) => toRecord(r)),
      prefixes: page.filter((r) => r.is_prefix).map((r) => r.entry),
      ...(rows.length > limit && last ? { nextCursor: encodeCursor(last.entry) } : {}),
    };
  }

  /**
   * What a whole-bucket pass compares with the store (reconcile): each latest row's key, version,
   * size and ETag, in key order, a keyset page at a time. Only those columns, since a walk over
   * millions of rows spends its time and its garbage on the rest (two timestamps parsed per row,
   * the metadata JSON): full rows made reconcile allocate several times more and grow its heap.
   */
  async *latestEntries(bucket: string, pageSize = 1000): AsyncGenerator<IndexEntry> {
    let after: string | undefined;
    for (;;) {
      let q = this.#db
        .selectFrom("object_versions")
        .select(["key", "version_id", "size", "etag"])
        .where("bucket", "=", bucket)
        .where("is_latest", "=", true);
      if (after !== undefined) q = q.where("key", ">", after);
      const page = q.orderBy("key").limit(pageSize);
      const rows = await this.#guard(() => page.execute());
      for (const r of rows) yield { key: r.key, versionId: r.version_id, size: Number(r.size), etag: r.etag };
      if (rows.length < pageSize) return;
      after = rows.at(-1)?.key;
    }
  }

  /** Every latest row of a bucket, in full, in key order, a page at a time. */
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
