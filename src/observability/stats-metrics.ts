import { Counter, Gauge, type Registry } from "prom-client";

/**
 * The usage and alert series (names agreed with src/observability/metrics.ts's owner), on the app's
 * registry. Gauges are set when usage is computed or alerts are checked, never at scrape time: a
 * scrape must not run an aggregate over the index.
 */
export interface StatsMetrics {
  bucketObjects: Gauge<"bucket">;
  bucketBytes: Gauge<"bucket">;
  alertsFiring: Gauge<"alert">;
  alertEvents: Counter<"alert" | "state">;
  webhookFailures: Counter;
}

/** A second app on one registry (tests) reuses the series instead of failing on a duplicate name. */
const existing = <T>(registry: Registry, name: string) => registry.getSingleMetric(name) as T | undefined;

export function statsMetrics(registry: Registry): StatsMetrics {
  const gauge = <L extends string>(name: string, help: string, labelNames: L[]) =>
    existing<Gauge<L>>(registry, name) ?? new Gauge({ name, help, labelNames, registers: [registry] });
  const counter = <L extends string>(name: string, help: string, labelNames: L[]) =>
    existing<Counter<L>>(registry, name) ?? new Counter({ name, help, labelNames, registers: [registry] });
  return {
    bucketObjects: gauge(
      "lumenslate_storage_bucket_objects",
      "Current objects per bucket, from the metadata index (as of the last usage computation)",
      ["bucket"],
    ),
    bucketBytes: gauge(
      "lumenslate_storage_bucket_bytes",
      "Bytes of current objects per bucket, from the metadata index (as of the last usage computation)",
      ["bucket"],
    ),
    alertsFiring: gauge("lumenslate_storage_alerts_firing", "1 while an alert is firing, else 0", ["alert"]),
    alertEvents: counter(
      "lumenslate_storage_alert_events_total",
      "Alert state changes (firing, resolved) this instance recorded",
      ["alert", "state"],
    ),
    webhookFailures: counter(
      "lumenslate_storage_alert_webhook_failures_total",
      "Alert webhook deliveries that failed (each attempt: error status, timeout, refused connection, queue full)",
      [],
    ),
  };
}
