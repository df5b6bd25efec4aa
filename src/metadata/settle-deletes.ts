import { sql, type Transaction } from "kysely";
import { NULL_VERSION } from "../backends/object-store.ts";
import type { DatabaseSchema } from "./schema.ts";

/**
 * The set-based statements behind MetadataRepository.settleDeletes: what removeVersion,
 * markDeleted and dropStaleNullVersion do for one key, for a batch of keys in a handful of
 * statements. Each runs inside the transaction that holds every key's lock.
 */

type Tx = Transaction<DatabaseSchema>;

/** A key the store deleted, and whether the delete left a delete marker (a versioned bucket). */
export interface DeletedKey {
  key: string;
  deleteMarker: boolean;
}

/**
 * lockKey for many keys in one statement. The locks are taken in hash order, the same order in any
 * batch, so two batches sharing keys wait for each other instead of deadlocking; a single-key
 * writer holds one lock at a time and cannot close a cycle.
 */
export async function lockKeys(tx: Tx, bucket: string, keys: readonly string[]): Promise<void> {
  await sql`
    select pg_advisory_xact_lock(h)
    from (
      select distinct hashtextextended(${bucket} || '/' || k, 0) as h
      from unnest(${[...keys]}::text[]) as k
      order by h
    ) locks`.execute(tx);
}

/** markDeleted for many keys: a delete marker hides them, so no row of theirs is latest. */
export async function hideKeys(tx: Tx, bucket: string, keys: readonly string[], now: Date): Promise<void> {
  if (keys.length === 0) return;
  await sql`
    update object_versions set is_latest = false, updated_at = ${now}
    where bucket = ${bucket} and key = any(${[...keys]}::text[] collate "C") and is_latest`.execute(tx);
}

/**
 * removeVersion(key, "null") for many keys: their "null" rows go, and where that row was the
 * latest, the newest remaining version of the key (by created_at, version_id) becomes latest.
 */
export async function removeNullVersions(
  tx: Tx,
  bucket: string,
  keys: readonly string[],
  now: Date,
): Promise<void> {
  if (keys.length === 0) return;
  const { rows } = await sql<{ key: string; is_latest: boolean }>`
    delete from object_versions
    where bucket = ${bucket} and key = any(${[...keys]}::text[] collate "C") and version_id = ${NULL_VERSION}
    returning key, is_latest`.execute(tx);
  const promote = rows.filter((r) => r.is_latest).map((r) => r.key);
  if (promote.length === 0) return;
  await sql`
    update object_versions o set is_latest = true, updated_at = ${now}
    from (
      select distinct on (key) key, version_id from object_versions
      where bucket = ${bucket} and key = any(${promote}::text[] collate "C")
      order by key, created_at desc, version_id desc
    ) newest
    where o.bucket = ${bucket} and o.key = newest.key and o.version_id = newest.version_id`.execute(tx);
}

/**
 * dropStaleNullVersion for keys the store serves again (written after the delete): a "null" row
 * with another ETag describes bytes that are gone. The current object's row is its writer's to
 * record (it may have already).
 */
export async function dropStaleNullRows(
  tx: Tx,
  bucket: string,
  current: ReadonlyMap<string, string>,
): Promise<void> {
  if (current.size === 0) return;
  await sql`
    delete from object_versions o
    using unnest(${[...current.keys()]}::text[], ${[...current.values()]}::text[]) as c(key, etag)
    where o.bucket = ${bucket} and o.key = c.key collate "C" and o.version_id = ${NULL_VERSION}
      and o.etag <> c.etag`.execute(tx);
}
