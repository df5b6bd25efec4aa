import { DELETE_MANY_MAX, type DeleteManyOutcome, type ObjectStore } from "../backends/object-store.ts";
import { mapBounded } from "../bounded.ts";
import { asStorageError, ERROR_CODES, StorageError } from "../errors.ts";
import { compareKeys } from "../metadata/listing.ts";
import type { DeletedKey, MetadataRepository } from "../metadata/repository.ts";
import { validateBucket, validatePrefix } from "./keys.ts";

/** What a delete by prefix needs: the store to list and delete, and the index to follow it. */
export interface DeletePrefixDeps {
  store: Pick<ObjectStore, "list" | "deleteMany">;
  index: Pick<MetadataRepository, "settleDeletes">;
}

export interface DeletePrefixOptions {
  /** An empty prefix means the whole bucket and is refused unless this is true. */
  all?: boolean;
  /** Index transactions (of INDEX_BATCH keys each) in flight at once within a page. */
  concurrency?: number;
  /** Stops between batches (what is deleted stays deleted). */
  signal?: AbortSignal;
  /** Called after each batch with the counts so far, for a progress display. */
  onProgress?: (progress: DeletePrefixProgress) => void;
}

export interface DeletePrefixProgress {
  /** Keys listed so far (each batch is one listing page). */
  listed: number;
  deleted: number;
  failed: number;
}

export interface DeletePrefixResult {
  deleted: number;
  failed: number;
  /** The first few failures, for the caller to look at. */
  errors: Array<{ key: string; code: string; message: string }>;
}

const PAGE = DELETE_MANY_MAX;
/**
 * Keys whose rows one index transaction settles. Each key's advisory lock is held until it commits,
 * and PostgreSQL's lock table is shared by every session (max_locks_per_transaction x
 * max_connections slots, 6,400 by default), so a batch stays well below it.
 */
const INDEX_BATCH = 250;
const MAX_REPORTED_ERRORS = 20;

/**
 * Deletes every current object under a prefix, a store listing page (up to 1000 keys) at a time:
 * one batch delete request for the page (S3 DeleteObjects), then the index follows in transactions
 * of INDEX_BATCH keys (MetadataRepository.settleDeletes: under the keys' locks, after asking the
 * store what it serves now, so a key written meanwhile keeps its object's row). Walks the store, not
 * the index, so objects that reached the store around the service go too. In versioned buckets this
 * leaves delete markers, as a plain delete does. Keys already gone count as deleted (as S3 reports
 * them); other failures are counted, not fatal.
 */
export async function deleteByPrefix(
  deps: DeletePrefixDeps,
  bucket: string,
  rawPrefix: string | undefined,
  options: DeletePrefixOptions = {},
): Promise<DeletePrefixResult> {
  validateBucket(bucket);
  const prefix = validatePrefix(rawPrefix);
  if (prefix === "" && !options.all) {
    throw new StorageError(
      "INVALID_ARGUMENT",
      "Refusing to delete a whole bucket: give a prefix, or all=true to mean it.",
      { field: "prefix" },
    );
  }
  const result: DeletePrefixResult = { deleted: 0, failed: 0, errors: [] };
  const fail = (key: string, err: unknown) => {
    result.failed++;
    if (result.errors.length >= MAX_REPORTED_ERRORS) return;
    const pub =
      err instanceof StorageError ? err.toPublic() : { code: "INTERNAL", message: ERROR_CODES.INTERNAL };
    result.errors.push({ key, code: pub.code, message: pub.message });
  };
  let cursor: string | undefined;
  /** The last key of the previous page: where a listing of this page's keys starts. */
  let before: string | undefined;
  let listed = 0;
  do {
    options.signal?.throwIfAborted();
    const page = await deps.store.list(bucket, { prefix, limit: PAGE, ...(cursor ? { cursor } : {}) });
    const keys = page.objects.map((o) => o.key);
    listed += keys.length;
    const outcomes = await deleteMany(deps, bucket, keys);
    // Index batches in page order, each with the key just before it (its listing's start).
    const batches: { after: string | undefined; keys: DeletedKey[] }[] = [];
    for (const [i, key] of keys.entries()) {
      const outcome = outcomes.get(key);
      if (!outcome?.deleted) {
        fail(key, outcome?.deleted === false ? outcome.error : undefined);
        continue;
      }
      let batch = batches.at(-1);
      if (!batch || batch.keys.length >= INDEX_BATCH) {
        batch = { after: i === 0 ? before : keys[i - 1], keys: [] };
        batches.push(batch);
      }
      batch.keys.push({ key, deleteMarker: outcome.deleteMarker });
    }
    await mapBounded(batches, options.concurrency ?? 4, async (batch) => {
      const last = batch.keys.at(-1)?.key ?? "";
      try {
        await deps.index.settleDeletes(bucket, batch.keys, () =>
          storeCurrent(deps.store, bucket, prefix, batch.after, last),
        );
        result.deleted += batch.keys.length;
      } catch (err) {
        // The objects are gone but their rows may not follow: `reconcile` repairs what is left.
        for (const { key } of batch.keys) fail(key, asStorageError(err, "UNAVAILABLE"));
      }
    });
    options.onProgress?.({ listed, deleted: result.deleted, failed: result.failed });
    before = keys.at(-1) ?? before;
    cursor = page.nextCursor;
  } while (cursor);
  return result;
}

/** One outcome per key; a request that failed as a whole fails each of its keys. */
async function deleteMany(
  deps: DeletePrefixDeps,
  bucket: string,
  keys: string[],
): Promise<Map<string, DeleteManyOutcome>> {
  const outcomes = await deps.store.deleteMany(bucket, keys).catch((err: unknown) => {
    const error = asStorageError(err, "UNAVAILABLE");
    return keys.map((key): DeleteManyOutcome => ({ key, deleted: false, error }));
  });
  return new Map(outcomes.map((o) => [o.key, o]));
}

/**
 * What the store serves now from just after `after` up to `last` (key to ETag): one listing page
 * for a batch, more only if keys were written in between meanwhile.
 */
async function storeCurrent(
  store: Pick<ObjectStore, "list">,
  bucket: string,
  prefix: string,
  after: string | undefined,
  last: string,
): Promise<Map<string, string>> {
  const current = new Map<string, string>();
  let cursor: string | undefined;
  for (;;) {
    const from = cursor ? { cursor } : after !== undefined ? { startAfter: after } : {};
    const page = await store.list(bucket, { prefix, limit: PAGE, ...from });
    for (const o of page.objects) {
      if (compareKeys(o.key, last) > 0) return current;
      current.set(o.key, o.etag);
    }
    if (!page.nextCursor) return current;
    cursor = page.nextCursor;
  }
}
