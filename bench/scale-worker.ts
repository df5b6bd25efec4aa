import { constants, PerformanceObserver } from "node:perf_hooks";
import { createApp } from "../src/app.ts";
import { loadConfig } from "../src/config/config.ts";
import { orphanCount } from "../src/core/reconcile.ts";
import { createLogger } from "../src/log.ts";

/**
 * One whole-bucket pass per process (spawned by bench/scale.ts), so its peak RSS is its own: a
 * reconcile dry run of a bucket, or a delete by prefix. The job comes as JSON in argv[2], the
 * service's environment (MinIO credentials, DATABASE_URL) in BENCH_CONFIG_ENV so no secret shows in
 * `ps`. Prints one JSON line.
 */

export type ScaleJob = { op: "reconcile"; bucket: string } | { op: "delete"; bucket: string; prefix: string };

export interface ScaleResult {
  op: ScaleJob["op"];
  seconds: number;
  /** Objects and index rows walked (reconcile) or objects deleted (delete). */
  objects: number;
  rows: number;
  orphans?: number;
  failed?: number;
  /** process.resourceUsage().maxRSS over the whole process, KiB. */
  maxRssKiB: number;
  /** RSS when the pass started, KiB. */
  startRssKiB: number;
  /**
   * The most heap in use just after V8's own full collections (KiB): what the pass keeps, as
   * opposed to what V8 lets the heap grow to. Read when the collection is reported, so it can
   * include what was allocated in between: an upper bound. 0 if no full collection ran.
   */
  peakLiveHeapKiB: number;
}

/** Watches V8's full (mark-compact) collections without causing any, which would change the RSS. */
function watchLiveHeap(): { peakKiB: () => number; stop: () => void } {
  let peak = 0;
  const observer = new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) {
      const { detail } = entry as { detail?: { kind?: number } };
      if (detail?.kind !== constants.NODE_PERFORMANCE_GC_MAJOR) continue;
      peak = Math.max(peak, process.memoryUsage().heapUsed);
    }
  });
  observer.observe({ entryTypes: ["gc"] });
  return { peakKiB: () => Math.round(peak / 1024), stop: () => observer.disconnect() };
}

export const CONFIG_ENV_VAR = "BENCH_CONFIG_ENV";

async function main(): Promise<void> {
  const job = JSON.parse(process.argv[2] ?? "{}") as ScaleJob;
  const config = loadConfig(JSON.parse(process.env[CONFIG_ENV_VAR] ?? "{}"));
  const app = await createApp(config, createLogger(config));
  try {
    const startRssKiB = Math.round(process.memoryUsage.rss() / 1024);
    const live = watchLiveHeap();
    const started = performance.now();
    let result: Omit<ScaleResult, "seconds" | "maxRssKiB" | "startRssKiB" | "peakLiveHeapKiB">;
    if (job.op === "reconcile") {
      const report = await app.service.reconcile(job.bucket, { repair: false });
      result = { op: job.op, objects: report.objects, rows: report.rows, orphans: orphanCount(report) };
    } else {
      const done = await app.service.deleteByPrefix(job.bucket, job.prefix);
      result = { op: job.op, objects: done.deleted, rows: 0, failed: done.failed };
    }
    const seconds = (performance.now() - started) / 1000;
    live.stop();
    process.stdout.write(
      `${JSON.stringify({ ...result, seconds, maxRssKiB: process.resourceUsage().maxRSS, startRssKiB, peakLiveHeapKiB: live.peakKiB() })}\n`,
    );
  } finally {
    await app.close();
  }
}

if (import.meta.main) {
  await main();
  // One pass per process: leave now, so no handle left referenced keeps the run waiting.
  process.exit();
}
