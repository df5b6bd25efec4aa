import { describe, expect, it } from "vitest";
import type { BucketUsage } from "../storage-stats.ts";
import { evaluate } from "./rules.ts";
import type { AlertSettings } from "./types.ts";

const settings: AlertSettings = {
  checkIntervalSeconds: 0,
  buckets: { maxBytes: { b: 100 }, maxObjects: { b: 3 }, quotaBytes: { b: 200 }, quotaPercent: 50 },
  errorRate: 0.1,
  p99LatencySeconds: 1,
  minioDegraded: true,
  minFreeDiskBytes: 1000,
};

const usage = (bytes: number, objects: number) =>
  new Map([["b", { bucket: "b", bytes, objects } as BucketUsage]]);

const breached = (o: ReturnType<typeof evaluate>) => Object.fromEntries(o.map((x) => [x.alert, x.breached]));

describe("evaluate", () => {
  it("judges each threshold at its boundary", () => {
    expect(
      breached(
        evaluate(settings, {
          usage: usage(99, 2),
          traffic: { requests: 10, errorRate: 0.1, p99Seconds: 1 },
          cluster: "ok",
          freeDiskBytes: 1000,
        }),
      ),
    ).toEqual({
      "bucket_bytes:b": false,
      "bucket_objects:b": false,
      "bucket_quota:b": false,
      error_rate: false,
      p99_latency: false,
      minio_degraded: false,
      free_disk: false,
    });
    expect(
      breached(
        evaluate(settings, {
          usage: usage(100, 3),
          traffic: { requests: 10, errorRate: 0.2, p99Seconds: 2.5 },
          cluster: "degraded",
          freeDiskBytes: 999,
        }),
      ),
    ).toEqual({
      "bucket_bytes:b": true,
      "bucket_objects:b": true,
      "bucket_quota:b": true,
      error_rate: true,
      p99_latency: true,
      minio_degraded: true,
      free_disk: true,
    });
  });

  it("leaves out what could not be measured (no traffic, unknown bucket, no cluster or disk figure)", () => {
    expect(evaluate(settings, { usage: new Map(), traffic: { requests: 0 } })).toEqual([]);
  });
});
