import { z } from "zod";
import type { AlertCheck, AlertRecord } from "../../../observability/alerts/index.ts";
import type {
  BucketDrift,
  BucketUsage,
  StorageStatsReport,
  UsageTotals,
} from "../../../observability/storage-stats.ts";

const count = z.number().int();
const Growth = z.object({ objects: count, bytes: count });

const totalsShape = {
  objects: count.describe("Current objects (latest versions)."),
  bytes: count.describe("Bytes of the current objects."),
  versions: count.describe("Every version the index holds, current and noncurrent."),
  noncurrentBytes: count.describe("Bytes of noncurrent versions."),
  growthDay: Growth.describe("Versions created in the last 24 hours."),
  growthWeek: Growth.describe("Versions created in the last 7 days."),
};

export const BucketUsageSchema = z
  .object({
    bucket: z.string(),
    ...totalsShape,
    prefixes: z
      .array(
        z.object({
          prefix: z.string().describe('Depth-1 prefix ("models/"); "" for top-level keys.'),
          ...totalsShape,
        }),
      )
      .describe("Usage per depth-1 prefix, in key order."),
    largest: z
      .array(z.object({ key: z.string(), versionId: z.string(), size: count, createdAt: z.string() }))
      .describe("The largest current objects, largest first."),
  })
  .meta({ id: "BucketUsage" });

export const BucketDriftSchema = z
  .object({
    bucket: z.string(),
    index: z.object({ objects: count, bytes: count }),
    store: z.object({ objects: count, bytes: count }),
    objectsWithoutRows: z.array(z.object({ key: z.string(), size: count })),
    rowsWithoutObjects: z.array(z.object({ key: z.string(), size: count })),
    sizeMismatched: z.array(z.object({ key: z.string(), indexSize: count, storeSize: count })),
    byteDifference: count.describe("store.bytes - index.bytes"),
    unlisted: count.describe("Drifted keys found beyond the first 1000 (not named)."),
  })
  .meta({ id: "BucketDrift" });

export const StorageStatsSchema = z
  .object({
    generatedAt: z.string(),
    totals: z.object(totalsShape),
    buckets: z.array(BucketUsageSchema),
    drift: z.array(BucketDriftSchema).optional().describe("With verify=true: the index against the store."),
  })
  .meta({ id: "StorageStats" });

const AlertSchema = z
  .object({
    alert: z.string(),
    state: z.enum(["firing", "resolved"]),
    value: z.number(),
    threshold: z.number(),
    message: z.string(),
    details: z.record(z.string(), z.union([z.string(), z.number()])),
    since: z.string(),
    checkedAt: z.string(),
  })
  .meta({ id: "Alert" });

const AlertEventSchema = AlertSchema.omit({ since: true, checkedAt: true }).extend({
  at: z.string(),
  service: z.literal("lumenslate-storage"),
});

export const AlertListSchema = z.object({ alerts: z.array(AlertSchema) });
export const AlertCheckSchema = z.object({
  checkedAt: z.string(),
  events: z.array(AlertEventSchema).describe("State changes this check made."),
  alerts: z.array(AlertSchema),
});

const totalsJson = (t: UsageTotals) => ({
  objects: t.objects,
  bytes: t.bytes,
  versions: t.versions,
  noncurrentBytes: t.noncurrentBytes,
  growthDay: t.growthDay,
  growthWeek: t.growthWeek,
});

export const usageJson = (u: BucketUsage): z.output<typeof BucketUsageSchema> => ({
  bucket: u.bucket,
  ...totalsJson(u),
  prefixes: u.prefixes.map((p) => ({ prefix: p.prefix, ...totalsJson(p) })),
  largest: u.largest.map((o) => ({ ...o, createdAt: o.createdAt.toISOString() })),
});

export const statsJson = (
  r: StorageStatsReport,
  drift?: BucketDrift[],
): z.output<typeof StorageStatsSchema> => ({
  generatedAt: r.generatedAt.toISOString(),
  totals: totalsJson(r.totals),
  buckets: r.buckets.map(usageJson),
  ...(drift ? { drift } : {}),
});

export const alertJson = (a: AlertRecord) => ({
  ...a,
  since: a.since.toISOString(),
  checkedAt: a.checkedAt.toISOString(),
});

export const alertCheckJson = (c: AlertCheck) => ({
  checkedAt: c.checkedAt.toISOString(),
  events: c.events,
  alerts: c.alerts.map(alertJson),
});

export type StorageStatsJson = z.output<typeof StorageStatsSchema>;
export type BucketUsageJson = z.output<typeof BucketUsageSchema>;
export type AlertCheckJson = ReturnType<typeof alertCheckJson>;
export type AlertJson = ReturnType<typeof alertJson>;
