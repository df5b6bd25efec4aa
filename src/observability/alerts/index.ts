import { statfs } from "node:fs/promises";
import type { Registry } from "prom-client";
import type { Logger } from "../../log.ts";
import type { Database } from "../../metadata/database.ts";
import type { StatsMetrics } from "../stats-metrics.ts";
import type { StorageStats } from "../storage-stats.ts";
import { AlertEvaluator } from "./evaluator.ts";
import { TrafficSignals } from "./signals.ts";
import { AlertStateStore } from "./state.ts";
import type { AlertSettings } from "./types.ts";
import { WebhookSender } from "./webhook.ts";

export { AlertEvaluator } from "./evaluator.ts";
export type { AlertCheck, AlertEvent, AlertRecord, AlertSettings } from "./types.ts";

export interface CreateAlertsOptions {
  settings: AlertSettings;
  db: Database;
  stats: StorageStats;
  registry: Registry;
  metrics: StatsMetrics;
  logger: Logger;
  cluster?: () => Promise<"ok" | "degraded" | "unavailable">;
  /** The local backend's root directory, whose file system's free space is known. */
  localRoot?: string;
}

export function createAlerts(o: CreateAlertsOptions): AlertEvaluator {
  const { webhook } = o.settings;
  const localRoot = o.localRoot;
  return new AlertEvaluator({
    settings: o.settings,
    stats: o.stats,
    state: new AlertStateStore(o.db),
    traffic: new TrafficSignals(o.registry),
    metrics: o.metrics,
    logger: o.logger,
    ...(webhook
      ? {
          webhook: new WebhookSender({
            ...webhook,
            logger: o.logger,
            onFailure: () => o.metrics.webhookFailures.inc(),
          }),
        }
      : {}),
    ...(o.cluster ? { cluster: o.cluster } : {}),
    ...(localRoot
      ? {
          freeDisk: async () => {
            const fs = await statfs(localRoot);
            return fs.bavail * fs.bsize;
          },
        }
      : {}),
  });
}
