import { createReadStream, writeFileSync } from "node:fs";
import { stat } from "node:fs/promises";
import { type Readable, Writable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { GetObjectCommand } from "@aws-sdk/client-s3";
import { Upload } from "@aws-sdk/lib-storage";
import { type AppContext, createApp } from "../src/app.ts";
import { createS3Client } from "../src/backends/s3/client.ts";
import { type Config, loadConfig } from "../src/config/config.ts";
import { createLogger } from "../src/log.ts";

/**
 * One benchmark measurement per process (spawned by bench/run.ts), so the peak RSS it reports
 * belongs to that measurement alone. The job comes as JSON in argv[2]; the service's environment
 * (with the MinIO credentials) in BENCH_CONFIG_ENV, so no secret shows in `ps`. Prints one JSON line.
 */

/** The index row an earlier service upload wrote; a fresh in-memory PGlite needs it again. */
export interface SeedRecord {
  versionId: string;
  size: number;
  sha256: string;
  etag: string;
  contentType: string;
}

export type WorkerJob =
  | { op: "setup" }
  | { op: "direct-upload" | "service-upload"; bucket: string; key: string; file: string }
  | { op: "direct-download"; bucket: string; key: string }
  | { op: "service-download"; bucket: string; key: string; seed: SeedRecord }
  | { op: "service-roundtrip" | "direct-roundtrip"; bucket: string; key: string; file: string };

export interface WorkerResult {
  op: WorkerJob["op"];
  /** Bytes moved by the timed operation (both directions for a round trip). */
  bytes: number;
  /** Wall time of the timed operation(s). */
  seconds: number;
  uploadSeconds?: number;
  downloadSeconds?: number;
  /** process.resourceUsage().maxRSS over the whole process (setup included), KiB. */
  maxRssKiB: number;
  /**
   * Peak RSS (KiB) from just before the timed operation to its end: the setup's high-water mark
   * (PGlite's start-up alone peaks near 1 GiB) is reset first. Absent where Linux's clear_refs is not writable.
   */
  transferMaxRssKiB?: number;
  /** RSS (KiB) when the timed operation started. */
  startRssKiB?: number;
  /** User+system CPU seconds this process spent from the start of the timed operation to its end. */
  cpuSeconds?: number;
  /** The same for the main (event loop) thread alone; the rest went to GC, libuv and worker threads. */
  mainThreadCpuSeconds?: number;
  bucket?: string;
  seed?: SeedRecord;
}

export const CONFIG_ENV_VAR = "BENCH_CONFIG_ENV";
const READ_HIGH_WATER_MARK = 1024 * 1024;

const source = (file: string): Readable => createReadStream(file, { highWaterMark: READ_HIGH_WATER_MARK });

/** Counts and drops every byte, so the download's cost is the transfer (and verification) alone. */
class Discard extends Writable {
  bytes = 0;
  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    this.bytes += chunk.length;
    callback();
  }
}

let setupPeakKiB = 0;
let peakWasReset = false;
let startRssKiB: number | undefined;
let startCpu: NodeJS.CpuUsage | undefined;
let startThreadCpu: NodeJS.CpuUsage | undefined;
let windowEnd: { maxRssKiB: number; cpuSeconds?: number; mainThreadCpuSeconds?: number } | undefined;

/**
 * Called right before the timed part (once per process; a round trip's window spans both legs):
 * remembers the peak so far, then resets the kernel's RSS high-water mark (Linux clear_refs "5"),
 * after which maxRSS tracks the transfer alone.
 */
function startPeakWindow(): void {
  if (startRssKiB !== undefined) return;
  setupPeakKiB = process.resourceUsage().maxRSS;
  try {
    writeFileSync("/proc/self/clear_refs", "5");
    peakWasReset = true;
  } catch {
    peakWasReset = false;
  }
  startRssKiB = Math.round(process.memoryUsage.rss() / 1024);
  startCpu = process.cpuUsage();
  startThreadCpu = process.threadCpuUsage();
}

/**
 * Ends a timed part and returns its seconds. Also notes peak RSS and CPU now (the last call wins),
 * so tear-down is left out of both.
 */
function stopClock(start: bigint): number {
  const elapsed = Number(process.hrtime.bigint() - start) / 1e9;
  const cpu = startCpu && process.cpuUsage(startCpu);
  const thread = startThreadCpu && process.threadCpuUsage(startThreadCpu);
  windowEnd = {
    maxRssKiB: process.resourceUsage().maxRSS,
    ...(cpu ? { cpuSeconds: (cpu.user + cpu.system) / 1e6 } : {}),
    ...(thread ? { mainThreadCpuSeconds: (thread.user + thread.system) / 1e6 } : {}),
  };
  return elapsed;
}

async function withApp<T>(config: Config, body: (app: AppContext, bucket: string) => Promise<T>): Promise<T> {
  const app = await createApp(config, createLogger(config));
  try {
    await app.bootstrap();
    return await body(app, config.buckets.temp);
  } finally {
    await app.close();
  }
}

async function directUpload(config: Config, bucket: string, key: string, file: string) {
  const client = createS3Client(config.s3);
  try {
    startPeakWindow();
    const start = process.hrtime.bigint();
    const upload = new Upload({
      client,
      params: { Bucket: bucket, Key: key, Body: source(file), ContentType: "application/octet-stream" },
      partSize: config.storage.multipart.partSize,
      queueSize: config.storage.multipart.concurrency,
      leavePartsOnError: false,
    });
    await upload.done();
    const elapsed = stopClock(start);
    return { bytes: (await stat(file)).size, seconds: elapsed };
  } finally {
    client.destroy();
  }
}

async function directDownload(config: Config, bucket: string, key: string) {
  const client = createS3Client(config.s3);
  try {
    startPeakWindow();
    const start = process.hrtime.bigint();
    const out = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    const sink = new Discard();
    await pipeline(out.Body as Readable, sink);
    return { bytes: sink.bytes, seconds: stopClock(start) };
  } finally {
    client.destroy();
  }
}

async function serviceUpload(app: AppContext, bucket: string, key: string, file: string) {
  startPeakWindow();
  const start = process.hrtime.bigint();
  const info = await app.service.upload({
    bucket,
    key,
    body: source(file),
    contentType: "application/octet-stream",
  });
  const elapsed = stopClock(start);
  const seed: SeedRecord = {
    versionId: info.versionId,
    size: info.size,
    sha256: info.sha256 ?? "",
    etag: info.etag,
    contentType: info.contentType,
  };
  return { bytes: info.size, seconds: elapsed, seed };
}

async function serviceDownload(app: AppContext, bucket: string, key: string) {
  startPeakWindow();
  const start = process.hrtime.bigint();
  const download = await app.service.download(bucket, key);
  if (!download.info.sha256) throw new Error(`No index row for ${bucket}/${key}: nothing would be verified`);
  const sink = new Discard();
  await pipeline(download.body, sink);
  return { bytes: sink.bytes, seconds: stopClock(start) };
}

async function runJob(job: WorkerJob, config: Config): Promise<Omit<WorkerResult, "op" | "maxRssKiB">> {
  switch (job.op) {
    case "setup":
      return withApp(config, async (_app, bucket) => ({ bytes: 0, seconds: 0, bucket }));
    case "direct-upload":
      return directUpload(config, job.bucket, job.key, job.file);
    case "direct-download":
      return directDownload(config, job.bucket, job.key);
    case "service-upload":
      return withApp(config, (app) => serviceUpload(app, job.bucket, job.key, job.file));
    case "service-download":
      return withApp(config, async (app) => {
        // The upload ran in another process with its own in-memory index: restore its row (untimed).
        await app.index.recordVersion({
          bucket: job.bucket,
          key: job.key,
          metadata: {},
          owner: "anonymous",
          ...job.seed,
        });
        return serviceDownload(app, job.bucket, job.key);
      });
    case "service-roundtrip":
      return withApp(config, async (app) =>
        roundTrip(
          await serviceUpload(app, job.bucket, job.key, job.file),
          await serviceDownload(app, job.bucket, job.key),
        ),
      );
    case "direct-roundtrip":
      return roundTrip(
        await directUpload(config, job.bucket, job.key, job.file),
        await directDownload(config, job.bucket, job.key),
      );
  }
}

function roundTrip(up: { bytes: number; seconds: number }, down: { bytes: number; seconds: number }) {
  if (down.bytes !== up.bytes) throw new Error(`Downloaded ${down.bytes} of ${up.bytes} bytes`);
  return {
    bytes: up.bytes + down.bytes,
    seconds: up.seconds + down.seconds,
    uploadSeconds: up.seconds,
    downloadSeconds: down.seconds,
  };
}

async function main(): Promise<void> {
  const job = JSON.parse(process.argv[2] ?? "null") as WorkerJob | null;
  const env = process.env[CONFIG_ENV_VAR];
  if (!job || !env) throw new Error(`usage: ${CONFIG_ENV_VAR}='{...}' node bench/worker.ts '<job json>'`);
  const config = loadConfig(JSON.parse(env) as Record<string, string>);
  const result = await runJob(job, config);
  const peakKiB = windowEnd?.maxRssKiB ?? process.resourceUsage().maxRSS;
  const line: WorkerResult = {
    op: job.op,
    ...result,
    maxRssKiB: Math.max(setupPeakKiB, peakKiB),
    ...(peakWasReset ? { transferMaxRssKiB: peakKiB } : {}),
    ...(startRssKiB !== undefined ? { startRssKiB } : {}),
    ...(windowEnd?.cpuSeconds !== undefined ? { cpuSeconds: windowEnd.cpuSeconds } : {}),
    ...(windowEnd?.mainThreadCpuSeconds !== undefined
      ? { mainThreadCpuSeconds: windowEnd.mainThreadCpuSeconds }
      : {}),
  };
  process.stdout.write(`${JSON.stringify(line)}\n`);
}

// Only as a process entry point: bench/run.ts imports this module for its types and constant.
if (import.meta.main) {
  try {
    await main();
  } catch (err) {
    console.error(err instanceof Error ? (err.stack ?? err.message) : String(err));
    process.exitCode = 1;
  }
  // One measurement per process: leave now, so a handle someone left referenced (a worker thread's
  // message port, say) cannot keep the process and the whole run waiting. Pipe writes are synchronous.
  process.exit();
}
