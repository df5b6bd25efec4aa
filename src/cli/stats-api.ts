import type { AppContext } from "../app.ts";
import {
  type AlertCheckJson,
  type AlertJson,
  alertCheckJson,
  alertJson,
  type BucketUsageJson,
  type StorageStatsJson,
  statsJson,
  usageJson,
} from "../transports/http/routes/stats-schemas.ts";
import type { ServiceClient } from "./remote/client.ts";

/**
 * Storage statistics and alerts for `stats`, `usage` and `alerts`, in the shapes of the HTTP API
 * (/v1/stats, /v1/buckets/{bucket}/usage, /v1/admin/alerts) whichever way the service is reached,
 * so both modes print the same text and JSON.
 */
export interface StatsApi {
  stats(req: { verify: boolean; largest?: number }): Promise<StorageStatsJson>;
  usage(bucket: string, largest?: number): Promise<BucketUsageJson>;
  checkAlerts(): Promise<AlertCheckJson>;
  alerts(): Promise<AlertJson[]>;
}

const largestOf = (n: number | undefined) => (n === undefined ? {} : { largest: n });

/** Local mode: the app's stats and alert evaluator, reads only (a check records alert state as `serve` would). */
export function localStats(app: AppContext): StatsApi {
  return {
    stats: async (req) => {
      const report = await app.stats.all(largestOf(req.largest));
      return statsJson(report, req.verify ? await app.stats.verify() : undefined);
    },
    usage: async (bucket, largest) => usageJson(await app.stats.bucket(bucket, largestOf(largest))),
    checkAlerts: async () => alertCheckJson(await app.alerts.check()),
    alerts: async () => (await app.alerts.list()).map(alertJson),
  };
}

/** Remote mode: the service's HTTP routes (stats and alerts need an admin key; usage `list` on the bucket). */
export function remoteStats(client: ServiceClient): StatsApi {
  const query = (params: Record<string, string | undefined>) => {
    const qs = new URLSearchParams(
      Object.entries(params).filter((e): e is [string, string] => e[1] !== undefined),
    );
    return qs.size ? `?${qs}` : "";
  };
  return {
    stats: (req) =>
      client.json<StorageStatsJson>(
        "GET",
        `/v1/stats${query({ verify: req.verify ? "true" : undefined, largest: req.largest?.toString() })}`,
        undefined,
        "stats",
      ),
    usage: (bucket, largest) =>
      client.json<BucketUsageJson>(
        "GET",
        `/v1/buckets/${encodeURIComponent(bucket)}/usage${query({ largest: largest?.toString() })}`,
        undefined,
        "usage",
      ),
    checkAlerts: () =>
      client.json<AlertCheckJson>("POST", "/v1/admin/alerts/check", undefined, "alerts check"),
    alerts: async () =>
      (await client.json<{ alerts: AlertJson[] }>("GET", "/v1/admin/alerts", undefined, "alerts")).alerts,
  };
}
