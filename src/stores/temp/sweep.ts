import type { Logger } from "pino";
import { mapBounded } from "../../bounded.ts";
import { expiryOf } from "../../core/expiry.ts";
import type { StorageService } from "../../core/storage-service.ts";
import { isStorageError } from "../../errors.ts";
import type { DueObject, Expiries } from "./expiries.ts";
import type { SweepOptions, SweepReport } from "./types.ts";

const DEFAULT_BATCH = 100;
const MAX_BATCH = 1000;
/** Deletes in flight per batch: enough to hide round trips, few enough to leave the store to others. */
const IN_FLIGHT = 8;

type Outcome = "deleted" | "gone" | "renewed" | "failed";

/**
 * Deletes the temp objects whose expiry has passed, batch by batch, each through the core's
 * delete() so the index follows. Before deleting, the object itself is asked (a stat, which the
 * core refuses with details.expired once the object's own `expires-at` has passed): a record may
 * be stale because the key was uploaded again with a later expiry, and that object must live.
 */
export async function sweepExpired(
  deps: { service: StorageService; expiries: Expiries; bucket: string; logger: Logger },
  options: SweepOptions = {},
): Promise<SweepReport> {
  const { bucket } = deps;
  const dryRun = options.dryRun ?? false;
  const batchSize = Math.min(Math.max(1, Math.trunc(options.batchSize ?? DEFAULT_BATCH)), MAX_BATCH);
  const now = options.now ?? new Date();
  const report: SweepReport = { bucket, dryRun, deleted: 0, bytes: 0, gone: 0, renewed: 0, failed: 0 };
  let after: DueObject | undefined;
  for (;;) {
    const batch = await deps.expiries.due(now, batchSize, after);
    if (batch.length === 0) break;
    const outcomes = await mapBounded(batch, IN_FLIGHT, (item) => examine(deps, item, dryRun), {
      signal: options.signal,
    });
    outcomes.forEach((outcome, i) => {
      report[outcome] += 1;
      if (outcome === "deleted") report.bytes += (batch[i] as DueObject).size;
    });
    after = batch.at(-1);
    if (batch.length < batchSize) break;
  }
  return report;
}

async function examine(
  deps: { service: StorageService; expiries: Expiries; bucket: string; logger: Logger },
  item: DueObject,
  dryRun: boolean,
): Promise<Outcome> {
  const { service, expiries, bucket } = deps;
  try {
    const live = await service.stat(bucket, item.key).catch((err: unknown) => {
      if (isStorageError(err) && err.code === "NOT_FOUND") return err;
      throw err;
    });
    if (!isStorageError(live)) {
      // Uploaded again since (or by someone else, without an expiry): keep it, and follow it.
      const at = expiryOf(live.metadata);
      if (!dryRun) await (at ? expiries.record(item.key, at, live.size) : expiries.drop(item));
      return "renewed";
    }
    if (live.details.expired === undefined) {
      if (!dryRun) await expiries.drop(item);
      return "gone";
    }
    if (!dryRun) {
      await service.delete(bucket, item.key);
      await expiries.drop(item);
    }
    return "deleted";
  } catch (err) {
    deps.logger.warn(
      { err, bucket, key: item.key },
      "temp sweep could not remove an object; next sweep retries",
    );
    return "failed";
  }
}
