/**
 * Run by scavenge-pacer.test.ts in a fresh process (a test runner's heap is no baseline): streams
 * 512 MiB of new 64 KiB buffers, as socket reads arrive, through a verified download while 96 MiB
 * of long-lived buffers sit off the heap (as an upload's part buffers do), and prints the full
 * collections and the RSS growth that took.
 */
import { createHash } from "node:crypto";
import { constants, type PerformanceEntry, PerformanceObserver } from "node:perf_hooks";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { VerifyingStream } from "./ingest.ts";

const MiB = 1024 * 1024;
const CHUNK = 64 * 1024;
const TOTAL = 512 * MiB;

let major = 0;
new PerformanceObserver((list) => {
  for (const entry of list.getEntries()) {
    const { detail } = entry as PerformanceEntry & { detail?: { kind?: number } };
    if (detail?.kind === constants.NODE_PERFORMANCE_GC_MAJOR) major++;
  }
}).observe({ entryTypes: ["gc"] });

const held = Array.from({ length: 6 }, () => Buffer.alloc(16 * MiB, 1));
const fill = Buffer.alloc(CHUNK, 7);
const hash = createHash("sha256");
for (let i = 0; i < TOTAL / CHUNK; i++) hash.update(fill);
const sha256 = hash.digest("hex");
await new Promise((resolve) => setTimeout(resolve, 100));

const majorBefore = major;
const rssBefore = process.memoryUsage().rss;
let peakRss = rssBefore;
let left = TOTAL;
const source = new Readable({
  read() {
    if (left === 0) return void this.push(null);
    left -= CHUNK;
    const chunk = Buffer.allocUnsafe(CHUNK);
    fill.copy(chunk);
    peakRss = Math.max(peakRss, process.memoryUsage.rss());
    this.push(chunk);
  },
});
await pipeline(source, new VerifyingStream({ sha256, size: TOTAL, bucket: "b", key: "k" }), async (out) => {
  for await (const _ of out);
});
await new Promise((resolve) => setTimeout(resolve, 100));
process.stdout.write(
  `${JSON.stringify({ major: major - majorBefore, rssGrowthMiB: (peakRss - rssBefore) / MiB, held: held.length })}\n`,
);
