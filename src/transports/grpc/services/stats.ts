import type { Logger } from "../../../log.ts";
import type { AlertEvaluator, AlertEvent, AlertRecord } from "../../../observability/alerts/index.ts";
import type {
  BucketDrift,
  BucketUsage,
  StorageStats,
  UsageTotals,
} from "../../../observability/storage-stats.ts";
import type { Security } from "../../../security/index.ts";
import type { Alert } from "../generated/lumenslate/storage/v1/Alert.ts";
import type { AlertEvent as AlertEventMessage } from "../generated/lumenslate/storage/v1/AlertEvent.ts";
import type { AlertState } from "../generated/lumenslate/storage/v1/AlertState.ts";
import type { BucketDrift as BucketDriftMessage } from "../generated/lumenslate/storage/v1/BucketDrift.ts";
import type { BucketUsage as BucketUsageMessage } from "../generated/lumenslate/storage/v1/BucketUsage.ts";
import type { StatsServiceHandlers } from "../generated/lumenslate/storage/v1/StatsService.ts";
import type { Usage } from "../generated/lumenslate/storage/v1/Usage.ts";
import type { InFlight } from "./call-scope.ts";
import { timestamp } from "./convert.ts";
import { unary } from "./storage-service.ts";

export interface StatsHandlerDeps {
  stats: StorageStats;
  alerts: AlertEvaluator;
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

const alertState = (state: AlertRecord["state"]): AlertState =>
  state === "firing" ? "ALERT_STATE_FIRING" : "ALERT_STATE_RESOLVED";

/** Details are text on the wire (map<string, string>): numbers in decimal. */
const details = (d: AlertRecord["details"]): Record<string, string> =>
  Object.fromEntries(Object.entries(d).map(([k, v]) => [k, String(v)]));

const alert = (a: AlertRecord): Alert => ({
  alert: a.alert,
  state: alertState(a.state),
  value: a.value,
  threshold: a.threshold,
  message: a.message,
  details: details(a.details),
  since: timestamp(a.since),
  checkedAt: timestamp(a.checkedAt),
});

const alertEvent = (e: AlertEvent): AlertEventMessage => ({
  alert: e.alert,
  state: alertState(e.state),
  value: e.value,
  threshold: e.threshold,
  message: e.message,
  details: details(e.details),
  at: timestamp(new Date(e.at)),
});

/** proto3 optional int32: undefined when absent. */
const largestOf = (n: number | undefined) => (n === undefined ? {} : { largest: n });

/**
 * lumenslate.storage.v1.StatsService: usage from the metadata index, as GET /v1/stats and
 * /v1/buckets/{bucket}/usage, and the threshold alerts, as /v1/admin/alerts(/check). Nothing is
 * audited beyond a refusal, as over HTTP: usage only reads, and a check changes no data, only the
 * alerts' recorded state, which its events already log.
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
    CheckAlerts: unary(deps, async (_req, { gate }) => {
      await gate.allow({ action: "admin", bucket: "*", operation: "alerts.check" });
      const check = await deps.alerts.check();
      return {
        checkedAt: timestamp(check.checkedAt),
        events: check.events.map(alertEvent),
        alerts: check.alerts.map(alert),
      };
    }),
    ListAlerts: unary(deps, async (_req, { gate }) => {
      await gate.allow({ action: "admin", bucket: "*", operation: "alerts.list" });
      return { alerts: (await deps.alerts.list()).map(alert) };
    }),
  };
}
