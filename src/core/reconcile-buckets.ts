import { StorageError } from "../errors.ts";
import { validateBucket } from "./keys.ts";
import { type BucketReport, orphanCount, type ReconcileOptions } from "./reconcile.ts";
import type { StorageService } from "./storage-service.ts";

/**
 * A reconcile run over several buckets, as the CLI and the admin APIs start it: the buckets named,
 * or else every configured bucket that exists (a bucket not yet bootstrapped has nothing to drift).
 */

export interface ReconcileRun extends ReconcileOptions {
  /** Buckets to check; empty: every one of `configured` that exists. */
  buckets: readonly string[];
  configured: readonly string[];
}

/** A bucket's report as it is printed and answered: with its orphan count. */
export type BucketReportJson = BucketReport & { orphans: number };

export const reportJson = (report: BucketReport): BucketReportJson => ({
  ...report,
  orphans: orphanCount(report),
});

export async function reconcileBuckets(service: StorageService, run: ReconcileRun): Promise<BucketReport[]> {
  const { buckets: named, configured, ...options } = run;
  if (options.deleteUnindexed && !options.repair) {
    // Deleting is a repair: without it the run is a report, and this flag would silently do nothing.
    throw new StorageError("INVALID_ARGUMENT", "deleteUnindexed only applies together with repair.", {
      field: "deleteUnindexed",
    });
  }
  let buckets = [...new Set(named)].map((b) => validateBucket(b, "buckets"));
  if (buckets.length === 0) {
    const candidates = [...new Set(configured)];
    const exists = await Promise.all(candidates.map((b) => service.bucketExists(b)));
    buckets = candidates.filter((_, i) => exists[i]);
  }
  const reports: BucketReport[] = [];
  // One bucket at a time: each walk already keeps the store and the index busy.
  for (const bucket of buckets) reports.push(await service.reconcile(bucket, options));
  return reports;
}
