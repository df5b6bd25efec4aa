import { describe, expect, it } from "vitest";
import { ConfigError, loadConfig } from "./config.ts";

const base = { STORAGE_BACKEND: "local", STORAGE_BUCKET_PREFIX: "dev-" };

describe("alert and log shipping settings", () => {
  it("takes bucket thresholds without the prefix and keys them by the full bucket name", () => {
    const { alerts, logs } = loadConfig({
      ...base,
      ALERT_BUCKET_MAX_BYTES: "logs=1GiB, temp=100",
      ALERT_BUCKET_MAX_OBJECTS: "user-data=5000",
      ALERT_BUCKET_QUOTA: "model-artifacts=2TiB",
      ALERT_BUCKET_QUOTA_PERCENT: "90",
      ALERT_ERROR_RATE: "0.05",
      ALERT_P99_LATENCY: "1.5",
      ALERT_MIN_FREE_DISK: "10GiB",
      ALERT_WEBHOOK_URL: "https://hooks.example/alerts",
      ALERT_CHECK_INTERVAL: "off",
      LOG_SHIP_TO_ARCHIVE: "true",
      LOG_SHIP_LEVEL: "warn",
    });
    expect(alerts).toEqual({
      checkIntervalSeconds: 0,
      webhook: { url: "https://hooks.example/alerts", timeoutSeconds: 5, retries: 5 },
      buckets: {
        maxBytes: { "dev-logs": 1024 ** 3, "dev-temp": 100 },
        maxObjects: { "dev-user-data": 5000 },
        quotaBytes: { "dev-model-artifacts": 2 * 1024 ** 4 },
        quotaPercent: 90,
      },
      errorRate: 0.05,
      p99LatencySeconds: 1.5,
      minioDegraded: true,
      minFreeDiskBytes: 10 * 1024 ** 3,
    });
    expect(logs).toMatchObject({ shipOwn: true, shipLevel: "warn" });
  });

  it("defaults: checks every 5 minutes, no webhook, no thresholds, no shipping", () => {
    const { alerts, logs } = loadConfig(base);
    expect(alerts).toEqual({
      checkIntervalSeconds: 300,
      buckets: { maxBytes: {}, maxObjects: {}, quotaBytes: {}, quotaPercent: 80 },
      minioDegraded: true,
    });
    expect(logs.shipOwn).toBe(false);
  });

  it.each([
    ["ALERT_BUCKET_MAX_BYTES", "logs"],
    ["ALERT_BUCKET_MAX_BYTES", "logs=lots"],
    ["ALERT_BUCKET_MAX_OBJECTS", "logs=1.5"],
    ["ALERT_BUCKET_QUOTA", "=1GiB"],
    ["ALERT_ERROR_RATE", "5"],
    ["ALERT_P99_LATENCY", "-1"],
    ["ALERT_WEBHOOK_URL", "ftp://example/hook"],
    ["ALERT_CHECK_INTERVAL", "10s"],
  ])("refuses %s=%s, naming the variable", (name, value) => {
    let thrown: unknown;
    try {
      loadConfig({ ...base, [name]: value });
    } catch (err) {
      thrown = err;
    }
    expect(thrown).toBeInstanceOf(ConfigError);
    expect((thrown as Error).message).toContain(name);
  });
});
