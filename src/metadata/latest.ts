import { sql, type Transaction } from "kysely";
import type { NewObjectVersion } from "./repository.ts";
import type { DatabaseSchema } from "./schema.ts";

/**
 * The statements behind "exactly one latest row per key, and it is the store's current object"
 * (the design is described at MetadataRepository.recordVersion). Each runs inside the transaction
 * that holds the key's lock. The partial unique index on (bucket, key) where is_latest is checked
 * row by row, so a demotion must be done before the promotion it makes room for: in a statement of
 * its own, or (upsertVersion) one whose result the promoted row is computed from.
 */

type Tx = Transaction<DatabaseSchema>;

/** What the store serves as a key's current object, asked while the key's index lock is held. */
export type StoreCurrent =
  /** The object the store serves now. */
  | { versionId: string; etag: string }
  /** Nothing: the key was deleted since (or a delete marker is on top). */
  | "absent"
  /** Some other object, which the store would not describe (SSE-C under another key). */
  | "other";

/**
 * Serialises index writes to one key across every connection and every instance, until the
 * transaction ends. Different keys may share a hash: they then only wait for each other.
 */
export async function lockKey(tx: Tx, bucket: string, key: string): Promise<void> {
  // Bucket names cannot contain "/", so bucket || '/' || key names exactly one key.
  await sql`select pg_advisory_xact_lock(hashtextextended(${`${bucket}/${key}`}, 0))`.execute(tx);
}

/** Clears is_latest on the key's rows other than `keep`. */
export async function demoteOthers(tx: Tx, bucket: string, key: string, keep: string, now: Date) {
  await tx
    .updateTable("object_versions")
    .set({ is_latest: false, updated_at: now })
    .where("bucket", "=", bucket)
    .where("key", "=", key)
    .where("is_latest", "=", true)
    .where("version_id", "<>", keep)
    .execute();
}

/**
 * Writes a version's row (inserted, or replaced if the index has it already) and returns it; as
 * latest, the key's other rows are demoted by the same statement. The demotion must land before
 * the row, or the one-latest index refuses it; statements in a WITH run in no promised order, so
 * the new row's is_latest is computed from the demotion's complete result: the row cannot exist
 * before the demotion has finished.
 */
export async function upsertVersion(tx: Tx, v: NewObjectVersion, asLatest: boolean, now: Date) {
  const { rows } = await sql<Record<string, unknown>>`
    with demoted as (
      update object_versions set is_latest = false, updated_at = ${now}
      where ${asLatest}::boolean and bucket = ${v.bucket} and key = ${v.key} and is_latest
        and version_id <> ${v.versionId}
      returning 1)
    insert into object_versions as o (bucket, key, version_id, size, sha256, etag, content_type,
      metadata, owner, is_latest, created_at, updated_at)
    values (${v.bucket}, ${v.key}, ${v.versionId}, ${v.size}, ${v.sha256}, ${v.etag}, ${v.contentType},
      ${JSON.stringify(v.metadata)}, ${v.owner},
      ${asLatest}::boolean and (select count(*) from demoted) >= 0, ${now}, ${now})
    on conflict (bucket, key, version_id) do update set size = excluded.size, sha256 = excluded.sha256,
      etag = excluded.etag, content_type = excluded.content_type, metadata = excluded.metadata,
      owner = excluded.owner, is_latest = excluded.is_latest, created_at = excluded.created_at,
      updated_at = excluded.updated_at
    returning o.*`.execute(tx);
  const row = rows[0];
  if (!row) throw new Error("upsertVersion: the insert returned no row");
  return row;
}

/**
 * Makes the row of `versionId` the key's only latest row, if the index has that row; otherwise
 * changes nothing (its writer has not recorded it yet, and will settle the key when it does).
 */
export async function settleOn(tx: Tx, bucket: string, key: string, versionId: string, now: Date) {
  const known = await tx
    .selectFrom("object_versions")
    .select("is_latest")
    .where("bucket", "=", bucket)
    .where("key", "=", key)
    .where("version_id", "=", versionId)
    .executeTakeFirst();
  if (!known) return;
  await demoteOthers(tx, bucket, key, versionId, now);
  if (known.is_latest) return;
  await tx
    .updateTable("object_versions")
    .set({ is_latest: true, updated_at: now })
    .where("bucket", "=", bucket)
    .where("key", "=", key)
    .where("version_id", "=", versionId)
    .execute();
}

/**
 * After the latest row was removed: the newest remaining row by (created_at, version_id) becomes
 * latest, a total order so every instance picks the same row.
 */
export async function promoteNewest(tx: Tx, bucket: string, key: string) {
  await sql`
    update object_versions set is_latest = true, updated_at = now()
    where bucket = ${bucket} and key = ${key} and version_id = (
      select version_id from object_versions where bucket = ${bucket} and key = ${key}
      order by created_at desc, version_id desc limit 1)`.execute(tx);
}
