import type { BucketUsage } from "../storage-stats.ts";
import type { TrafficFigures } from "./signals.ts";
import type { AlertSettings, Observation } from "./types.ts";

/** What one check measured; a figure that could not be known is absent and its alerts are not judged. */
export interface Measurements {
  usage: Map<string, BucketUsage>;
  traffic: TrafficFigures;
  /** "unavailable": MinIO lost write quorum or did not answer. */
  cluster?: "ok" | "degraded" | "unavailable";
  freeDiskBytes?: number;
}

const pct = (n: number) => `${Math.round(n * 1000) / 10}%`;

/** Every configured threshold against the measurements: one observation per alert that can be judged. */
export function evaluate(s: AlertSettings, m: Measurements): Observation[] {
  const out: Observation[] = [];
  const limit = (
    alert: string,
    value: number,
    threshold: number,
    what: string,
    details: Observation["details"],
  ) =>
    out.push({
      alert,
      breached: value >= threshold,
      value,
      threshold,
      message: `${what}: ${value} (threshold ${threshold})`,
      details,
    });
  for (const [bucket, max] of Object.entries(s.buckets.maxBytes)) {
    const u = m.usage.get(bucket);
    if (u) limit(`bucket_bytes:${bucket}`, u.bytes, max, `Bucket ${bucket} bytes`, { bucket });
  }
  for (const [bucket, max] of Object.entries(s.buckets.maxObjects)) {
    const u = m.usage.get(bucket);
    if (u) limit(`bucket_objects:${bucket}`, u.objects, max, `Bucket ${bucket} objects`, { bucket });
  }
  for (const [bucket, quota] of Object.entries(s.buckets.quotaBytes)) {
    const u = m.usage.get(bucket);
    if (!u) continue;
    const used = u.bytes / quota;
    out.push({
      alert: `bucket_quota:${bucket}`,
      breached: used * 100 >= s.buckets.quotaPercent,
      value: used,
      threshold: s.buckets.quotaPercent / 100,
      message: `Bucket ${bucket} uses ${pct(used)} of its ${quota}-byte quota (threshold ${s.buckets.quotaPercent}%)`,
      details: { bucket, bytes: u.bytes, quotaBytes: quota },
    });
  }
  if (s.errorRate !== undefined && m.traffic.errorRate !== undefined) {
    out.push({
      alert: "error_rate",
      breached: m.traffic.errorRate > s.errorRate,
      value: m.traffic.errorRate,
      threshold: s.errorRate,
      message: `Server errors: ${pct(m.traffic.errorRate)} of ${m.traffic.requests} requests (threshold ${pct(s.errorRate)})`,
      details: { requests: m.traffic.requests },
    });
  }
  if (s.p99LatencySeconds !== undefined && m.traffic.p99Seconds !== undefined) {
    out.push({
      alert: "p99_latency",
      breached: m.traffic.p99Seconds > s.p99LatencySeconds,
      value: m.traffic.p99Seconds,
      threshold: s.p99LatencySeconds,
      message: `HTTP p99 latency: at most ${m.traffic.p99Seconds}s (threshold ${s.p99LatencySeconds}s)`,
      details: { requests: m.traffic.requests },
    });
  }
  if (s.minioDegraded && m.cluster !== undefined) {
    out.push({
      alert: "minio_degraded",
      breached: m.cluster !== "ok",
      value: m.cluster === "ok" ? 0 : 1,
      threshold: 1,
      message:
        m.cluster === "ok"
          ? "MinIO cluster healthy"
          : m.cluster === "degraded"
            ? "MinIO cluster degraded: nodes or drives offline, no redundancy to spare"
            : "MinIO cluster unavailable or without write quorum",
      details: { cluster: m.cluster },
    });
  }
  if (s.minFreeDiskBytes !== undefined && m.freeDiskBytes !== undefined) {
    out.push({
      alert: "free_disk",
      breached: m.freeDiskBytes < s.minFreeDiskBytes,
      value: m.freeDiskBytes,
      threshold: s.minFreeDiskBytes,
      message: `Free disk: ${m.freeDiskBytes} bytes (threshold ${s.minFreeDiskBytes})`,
      details: {},
    });
  }
  return out;
}
