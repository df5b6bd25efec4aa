import type { Logger } from "../../../log.ts";
import type {
  BucketDrift,
  BucketUsage,
  StorageStats,
  UsageTotals,
} from "../../../observability/storage-stats.ts";
import type { Security } from "../../../security/index.ts";
import type { BucketDrift as BucketDriftMessage } from "../generated/lumenslate/storage/v1/BucketDrift.ts";
import type { BucketUsage as BucketUsageMessage } from "../generated/lumenslate/storage/v1/BucketUsage.ts";
import type { StatsServiceHandlers } from "../generated/lumenslate/storage/v1/StatsService.ts";
import type { Usage } from "../generated/lumenslate/storage/v1/Usage.ts";
import type { InFlight } from "./call-scope.ts";
import { timestamp } from "./convert.ts";
import { unary } from "./storage-service.ts";

export interface StatsHandlerDeps {
  stats: StorageStats;
  security: Security;
  logger: Logger;
  inFlight: InFlight;
}

const usage = (t: UsageTotals): Usage => ({
  objects: t.objects,
  bytes: t.bytes,
  versions: t.versions,
  noncurrentBytes: t.noncurrentBytes,
  growthDay: t.growthDay,
  growthWeek: t.growthWeek,
});

const bucketUsage = (u: BucketUsage): BucketUsageMessage => ({
  bucket: u.bucket,
  usage: usage(u),
  prefixes: u.prefixes.map((p) => ({ prefix: p.prefix, usage: usage(p) })),
  largest: u.largest.map((o) => ({
    key: o.key,
    versionId: o.versionId,
    size: o.size,
    createdAt: timestamp(o.createdAt),
  })),
});

const drift = (d: BucketDrift): BucketDriftMessage => ({
  bucket: d.bucket,
  indexObjects: d.index.objects,
  indexBytes: d.index.bytes,
  storeObjects: d.store.objects,
  storeBytes: d.store.bytes,
  objectsWithoutRows: d.objectsWithoutRows,
  rowsWithoutObjects: d.rowsWithoutObjects,
  sizeMismatched: d.sizeMismatched,
  byteDifference: d.byteDifference,
  unlisted: d.unlisted,
});

/** proto3 optional int32: undefined when absent. */
const largestOf = (n: number | undefined) => (n === undefined ? {} : { largest: n });

/**
 * lumenslate.storage.v1.StatsService: usage from the metadata index, as GET /v1/stats and
 * /v1/buckets/{bucket}/usage. Reads only, so nothing is audited beyond a refusal.
 */
export function statsHandlers(deps: StatsHandlerDeps): StatsServiceHandlers {
  return {
    GetStorageStats: unary(deps, async (req, { gate }) => {
      await gate.allow({ action: "admin", bucket: "*", operation: "stats" });
      const report = await deps.stats.all(largestOf(req.largest));
      return {
        generatedAt: timestamp(report.generatedAt),
        totals: usage(report.totals),
        buckets: report.buckets.map(bucketUsage),
        drift: req.verify ? (await deps.stats.verify()).map(drift) : [],
      };
    }),
    GetBucketUsage: unary(deps, async (req, { gate }) => {
      await gate.allow({ action: "list", bucket: req.bucket, operation: "usage" });
      return bucketUsage(await deps.stats.bucket(req.bucket, largestOf(req.largest)));
    }),
  };
}
