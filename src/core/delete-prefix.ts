import type { ObjectStore } from "../backends/object-store.ts";
import { mapBounded } from "../bounded.ts";
import { ERROR_CODES, StorageError } from "../errors.ts";
import { validateBucket, validatePrefix } from "./keys.ts";

/** What a delete by prefix needs: the store to list, and the core's delete (so the index follows). */
export interface DeletePrefixDeps {
  store: Pick<ObjectStore, "list">;
  remove(bucket: string, key: string): Promise<unknown>;
}

export interface DeletePrefixOptions {
  /** An empty prefix means the whole bucket and is refused unless this is true. */
  all?: boolean;
  /** Deletes in flight at once within a batch. */
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

const PAGE = 1000;
const MAX_REPORTED_ERRORS = 20;

/**
 * Deletes every current object under a prefix, batch by batch (one store listing page of up to
 * 1000 keys at a time, a few deletes in flight), through the core's delete so the metadata index
 * follows. Walks the store, not the index, so objects that reached the store around the service go
 * too. In versioned buckets this leaves delete markers, as a plain delete does. Keys that vanish
 * meanwhile are skipped; other failures are counted, not fatal.
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
  let cursor: string | undefined;
  let listed = 0;
  do {
    options.signal?.throwIfAborted();
    const page = await deps.store.list(bucket, { prefix, limit: PAGE, ...(cursor ? { cursor } : {}) });
    const keys = page.objects.map((o) => o.key);
    listed += keys.length;
    // Failures are counted, not thrown, so one key never stops the rest of the batch.
    await mapBounded(keys, options.concurrency ?? 8, async (key) => {
      try {
        await deps.remove(bucket, key);
        result.deleted++;
      } catch (err) {
        if (err instanceof StorageError && err.code === "NOT_FOUND") return;
        result.failed++;
        if (result.errors.length < MAX_REPORTED_ERRORS) {
          const pub =
            err instanceof StorageError
              ? err.toPublic()
              : { code: "INTERNAL", message: ERROR_CODES.INTERNAL };
          result.errors.push({ key, code: pub.code, message: pub.message });
        }
      }
    });
    options.onProgress?.({ listed, deleted: result.deleted, failed: result.failed });
    cursor = page.nextCursor;
  } while (cursor);
  return result;
}
