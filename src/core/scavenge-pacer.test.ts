import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { constants, type PerformanceEntry, PerformanceObserver } from "node:perf_hooks";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { IngestGuard, VerifyingStream } from "./ingest.ts";
import { PACE, PacedStream, pacing, streamed } from "./scavenge-pacer.ts";

const CHUNK = 64 * 1024;

/** Young collections V8 reports while `work` runs. */
async function minorCollectionsDuring(work: () => Promise<void> | void): Promise<number> {
  let minor = 0;
  const observer = new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) {
      const { detail } = entry as PerformanceEntry & { detail?: { kind?: number } };
      if (detail?.kind === constants.NODE_PERFORMANCE_GC_MINOR) minor++;
    }
  });
  observer.observe({ entryTypes: ["gc"] });
  await work();
  // GC entries are delivered asynchronously.
  await new Promise((resolve) => setTimeout(resolve, 50));
  observer.disconnect();
  return minor;
}

/** `total` bytes as fresh 64 KiB buffers, the way socket reads arrive. */
function socketLike(total: number, fill = 7): Readable {
  let left = total;
  return new Readable({
    read() {
      if (left === 0) return void this.push(null);
      const n = Math.min(CHUNK, left);
      left -= n;
      this.push(Buffer.alloc(n, fill));
    },
  });
}

const drain = async (source: AsyncIterable<unknown>) => {
  for await (const _ of source);
};

describe("scavenge pacer", () => {
  it("can ask V8 for young collections here, without leaving `gc` exposed", () => {
    expect(pacing().available).toBe(true);
    expect((globalThis as { gc?: unknown }).gc).toBeUndefined();
  });

  it("runs one young collection per PACE bytes streamed, and none below it", async () => {
    const before = pacing().collections;
    streamed(PACE - 1);
    expect(pacing().collections).toBe(before);
    const atPace = await minorCollectionsDuring(() => {
      streamed(PACE);
      streamed(PACE);
    });
    expect(pacing().collections).toBe(before + 2);
    // ...and V8 reports them as young collections (scavenges), not full ones.
    expect(atPace).toBeGreaterThanOrEqual(2);
  });

  it("is fed by uploads (IngestGuard) and verified downloads (VerifyingStream)", async () => {
    const size = 3 * PACE;
    const start = pacing().collections;
    const guard = new IngestGuard({ maxBytes: size });
    await pipeline(socketLike(size), guard, drain);
    const afterUpload = pacing().collections;
    // Pending bytes carry over between streams, so 3 PACEs give at least 2 and at most 3.
    expect(afterUpload - start).toBeGreaterThanOrEqual(2);
    expect(afterUpload - start).toBeLessThanOrEqual(3);

    const sha256 = createHash("sha256").update(Buffer.alloc(size, 7)).digest("hex");
    const verifier = new VerifyingStream({ sha256, size, bucket: "b", key: "k" });
    await pipeline(socketLike(size), verifier, drain);
    expect(pacing().collections - afterUpload).toBeGreaterThanOrEqual(2);
  });

  it("paces bodies no integrity stream sees (PacedStream), passing bytes and errors on unchanged", async () => {
    const start = pacing().collections;
    const out: Buffer[] = [];
    await pipeline(socketLike(2 * PACE + 5, 9), new PacedStream(), async (source: AsyncIterable<Buffer>) => {
      for await (const chunk of source) out.push(chunk);
    });
    expect(pacing().collections - start).toBeGreaterThanOrEqual(2);
    const all = Buffer.concat(out);
    expect(all.length).toBe(2 * PACE + 5);
    expect(all.every((b) => b === 9)).toBe(true);
    const failing = new PacedStream();
    const failed = pipeline(failing, drain);
    failing.destroy(new Error("store went away"));
    await expect(failed).rejects.toThrow("store went away");
  });

  it("streams 512 MiB past 96 MiB of long-lived buffers with no more than 2 full collections and bounded RSS", async () => {
    // A fresh process: measured on 2026-12-07, V8's defaults took 17 full collections; pacing alone
    // 5; the global-limit flag alone 1 but +151 MiB of RSS (dead buffers piling up); both 1, +59 MiB.
    const fixture = fileURLToPath(new URL("./scavenge-pacer.fixture.ts", import.meta.url));
    const { stdout } = await promisify(execFile)(process.execPath, [fixture], { timeout: 60_000 });
    const { major, rssGrowthMiB } = JSON.parse(stdout) as { major: number; rssGrowthMiB: number };
    expect(major).toBeLessThanOrEqual(2);
    expect(rssGrowthMiB).toBeLessThan(110);
  });
});
