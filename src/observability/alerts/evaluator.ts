import type { Logger } from "../../log.ts";
import type { StatsMetrics } from "../stats-metrics.ts";
import type { BucketUsage, StorageStats } from "../storage-stats.ts";
import { evaluate, type Measurements } from "./rules.ts";
import type { TrafficSignals } from "./signals.ts";
import type { AlertStateStore } from "./state.ts";
import type { AlertCheck, AlertEvent, AlertRecord, AlertSettings } from "./types.ts";
import type { WebhookSender } from "./webhook.ts";

export interface AlertEvaluatorDeps {
  settings: AlertSettings;
  stats: StorageStats;
  state: AlertStateStore;
  traffic: TrafficSignals;
  metrics: StatsMetrics;
  logger: Logger;
  webhook?: WebhookSender;
  /** MinIO's view of its cluster (absent: not MinIO, nothing to judge). */
  cluster?: () => Promise<"ok" | "degraded" | "unavailable">;
  /** Free bytes where the service can know them (the local backend's disk). */
  freeDisk?: () => Promise<number>;
}

/**
 * Checks the configured thresholds (ALERT_*), periodically after start() and on demand. A state
 * change is an event: logged, counted, queued for the webhook (never awaited) and recorded in
 * PostgreSQL (state.ts), so a breach is one alert however many checks and instances see it.
 */
export class AlertEvaluator {
  readonly #d: AlertEvaluatorDeps;
  #timer: NodeJS.Timeout | undefined;
  #checking: Promise<AlertCheck> | undefined;

  constructor(deps: AlertEvaluatorDeps) {
    this.#d = deps;
  }

  /** One check now; a check already running is joined rather than run twice. */
  check(): Promise<AlertCheck> {
    this.#checking ??= this.#check().finally(() => {
      this.#checking = undefined;
    });
    return this.#checking;
  }

  list(): Promise<AlertRecord[]> {
    return this.#d.state.list();
  }

  /** Periodic checks every ALERT_CHECK_INTERVAL (no-op when 0); the timer never holds the process open. */
  start(): void {
    const seconds = this.#d.settings.checkIntervalSeconds;
    if (this.#timer || seconds <= 0) return;
    this.#timer = setInterval(() => {
      this.check().catch((err: unknown) => this.#d.logger.error({ err }, "alert check failed"));
    }, seconds * 1000);
    this.#timer.unref();
  }

  async close(): Promise<void> {
    clearInterval(this.#timer);
    this.#timer = undefined;
    await this.#checking?.catch(() => {});
    await this.#d.webhook?.close();
  }

  async #check(): Promise<AlertCheck> {
    const checkedAt = new Date();
    const events: AlertEvent[] = [];
    for (const o of evaluate(this.#d.settings, await this.#measure())) {
      const changed = await this.#d.state.record(o, checkedAt);
      if (changed) events.push(this.#announce(changed));
    }
    const alerts = await this.#d.state.list();
    for (const a of alerts)
      this.#d.metrics.alertsFiring.set({ alert: a.alert }, a.state === "firing" ? 1 : 0);
    return { checkedAt, events, alerts };
  }

  #announce(a: AlertRecord): AlertEvent {
    const event: AlertEvent = {
      alert: a.alert,
      state: a.state,
      value: a.value,
      threshold: a.threshold,
      message: a.message,
      details: a.details,
      at: a.since.toISOString(),
      service: "lumenslate-storage",
    };
    const log = a.state === "firing" ? this.#d.logger.warn : this.#d.logger.info;
    log.call(this.#d.logger, { alertEvent: event }, `alert ${a.state}: ${a.message}`);
    this.#d.metrics.alertEvents.inc({ alert: a.alert, state: a.state });
    this.#d.webhook?.enqueue(event);
    return event;
  }

  async #measure(): Promise<Measurements> {
    const { settings, stats } = this.#d;
    const wanted = new Set([
      ...Object.keys(settings.buckets.maxBytes),
      ...Object.keys(settings.buckets.maxObjects),
      ...Object.keys(settings.buckets.quotaBytes),
    ]);
    const usage = new Map<string, BucketUsage>();
    for (const bucket of wanted) {
      try {
        usage.set(bucket, await stats.bucket(bucket, { largest: 0 }));
      } catch (err) {
        this.#d.logger.warn({ err, bucket }, "alert check: bucket usage unknown");
      }
    }
    const cluster = settings.minioDegraded
      ? await this.#d.cluster?.().catch(() => "unavailable" as const)
      : undefined;
    const freeDisk =
      settings.minFreeDiskBytes === undefined ? undefined : await this.#d.freeDisk?.().catch(() => undefined);
    return {
      usage,
      traffic: await this.#d.traffic.read(),
      ...(cluster === undefined ? {} : { cluster }),
      ...(freeDisk === undefined ? {} : { freeDiskBytes: freeDisk }),
    };
  }
}
