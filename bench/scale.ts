import { execFile, spawn } from "node:child_process";
import { readFile } from "node:fs/promises";
import { totalmem } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { CreateBucketCommand, PutObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import { Kysely, PostgresDialect, sql } from "kysely";
import pg from "pg";
import { createS3Client } from "../src/backends/s3/client.ts";
import { mapBounded } from "../src/bounded.ts";
import { loadConfig } from "../src/config/config.ts";
import { encodeCursor } from "../src/cursor.ts";
import { openDatabase } from "../src/metadata/database.ts";
import { MetadataRepository } from "../src/metadata/repository.ts";
import type { DatabaseSchema } from "../src/metadata/schema.ts";
import type { OwnDatabase } from "../test/support/database.ts";
import { DEEP_PREFIX, seededRows, seedIndex, wideKey } from "../test/support/index-seed.ts";
import { type MinioServer, startMinio } from "../test/support/minio.ts";
import { sharedPostgres } from "../test/support/postgres.ts";
import { oldList } from "./scale-old-list.ts";
import { CONFIG_ENV_VAR, type ScaleJob, type ScaleResult } from "./scale-worker.ts";

/**
 * `npm run bench:scale`: the metadata index at 10^4..10^7 rows in a PostgreSQL server (a database of
 * its own on DATABASE_URL's server, else a throwaway server from scripts/start-postgres.sh), seeded
 * in SQL (test/support/index-seed.ts). For each size: per-page latency of each listing shape, with
 * the query used before the loose index scan for comparison; a reconcile dry run against a MinIO
 * holding a real sample of the bucket (throughput, peak RSS); and once, at the largest size, a
 * delete by prefix of real MinIO objects. Prints markdown tables; progress on stderr.
 * Knobs: BENCH_SCALE_ROWS (default 10000,100000,1000000,10000000), BENCH_SCALE_PAGES (50),
 * BENCH_SCALE_OLD_PAGES (5, the old query is slow), BENCH_SCALE_RECONCILE_MAX (1000000),
 * BENCH_SCALE_SAMPLE (2000 objects in MinIO), BENCH_SCALE_DELETE (100000 objects, put into MinIO
 * first, then deleted through the service in batches of 1000).
 */

const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const WORKER = join(REPO_ROOT, "bench/scale-worker.ts");
const BUCKET = "scale-bench";
const PAGE = 1000;
const SAMPLE_BODY = Buffer.alloc(1024, "s");
const run = promisify(execFile);
const progress = (msg: string) => process.stderr.write(`bench:scale: ${msg}\n`);

function listKnob(name: string, fallback: number[], min: number): number[] {
  const raw = process.env[name];
  if (!raw) return fallback;
  const values = raw.split(",").map(Number);
  if (values.length === 0 || values.some((v) => !Number.isSafeInteger(v) || v < min)) {
    throw new Error(`${name} must be whole numbers >= ${min}, comma-separated`);
  }
  return values;
}
const intKnob = (name: string, fallback: number, min = 0) => listKnob(name, [fallback], min)[0] ?? fallback;

const percentile = (values: number[], p: number) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? Number.NaN;
};
const ms = (n: number) => (n >= 100 ? n.toFixed(0) : n.toFixed(1));
const memory = (r: ScaleResult) =>
  `${(r.maxRssKiB / 1024).toFixed(0)} MiB (${(r.startRssKiB / 1024).toFixed(0)} at start; live heap ${r.peakLiveHeapKiB > 0 ? (r.peakLiveHeapKiB / 1024).toFixed(0) : "- (no full GC)"})`;
const table = (header: string[], rows: string[][]) =>
  [header, header.map(() => "---"), ...rows].map((cells) => `| ${cells.join(" | ")} |`).join("\n");

/** A deterministic spread of positions, so before and after read the same pages. */
const spread = (count: number, range: number) =>
  Array.from({ length: count }, (_, i) => Math.floor(((i * 7919) % count) * (range / count)));

type Lister = (options: Parameters<MetadataRepository["list"]>[1]) => Promise<unknown>;

interface Shape {
  name: string;
  /** The options of page i (of `pages`). */
  page: (i: number, pages: number) => Parameters<MetadataRepository["list"]>[1];
}

function shapes(folders: number): Shape[] {
  const folder = (n: number) => `scale/d${String(n).padStart(5, "0")}/`;
  return [
    { name: "root level (`delimiter=/`)", page: () => ({ delimiter: "/", limit: PAGE }) },
    {
      name: "wide: `scale/`, 1000 subfolders a page",
      page: (i, n) => {
        const at = spread(n, Math.max(1, folders - PAGE))[i] ?? 0;
        return {
          prefix: "scale/",
          delimiter: "/",
          limit: PAGE,
          ...(at > 0 ? { cursor: encodeCursor(folder(at - 1)) } : {}),
        };
      },
    },
    {
      name: "one folder's 1000 files",
      page: (i, n) => ({ prefix: folder(spread(n, folders)[i] ?? 0), delimiter: "/", limit: PAGE }),
    },
    { name: "deep folder (9 levels)", page: () => ({ prefix: DEEP_PREFIX, delimiter: "/", limit: PAGE }) },
    {
      name: "recursive page under `scale/`",
      page: (i, n) => ({
        prefix: "scale/",
        limit: PAGE,
        cursor: encodeCursor(wideKey(spread(n, Math.max(1, folders - 1))[i] ?? 0, 999)),
      }),
    },
  ];
}

async function timePages(list: Lister, shape: Shape, pages: number): Promise<number[]> {
  await list(shape.page(0, pages)); // warm the connection and the plan cache
  const times: number[] = [];
  for (let i = 0; i < pages; i++) {
    const options = shape.page(i, pages);
    const started = performance.now();
    await list(options);
    times.push(performance.now() - started);
  }
  return times;
}

function spawnWorker(job: ScaleJob, env: Record<string, string>): Promise<ScaleResult> {
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, [WORKER, JSON.stringify(job)], {
      cwd: REPO_ROOT,
      env: { ...process.env, [CONFIG_ENV_VAR]: JSON.stringify(env) },
      stdio: ["ignore", "pipe", "inherit"],
    });
    let stdout = "";
    child.stdout?.setEncoding("utf8").on("data", (chunk: string) => {
      stdout += chunk;
    });
    child.once("error", fail);
    child.once("close", (code) => {
      const last = stdout.trim().split("\n").pop() ?? "";
      if (code !== 0 || !last.startsWith("{")) fail(new Error(`scale worker ${job.op} exited with ${code}`));
      else done(JSON.parse(last) as ScaleResult);
    });
  });
}

/** Objects written straight to MinIO (as a presigned upload would), `concurrency` at a time. */
async function putObjects(s3: S3Client, keys: string[]): Promise<string> {
  let etag = "";
  await mapBounded(keys, 32, async (key) => {
    const out = await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: SAMPLE_BODY }));
    etag = out.ETag ?? "";
  });
  return etag;
}

/** Index rows for objects put with putObjects (same size and ETag, so reconcile finds no drift in them). */
async function indexObjects(db: Kysely<DatabaseSchema>, keyExpr: string, count: number, etag: string) {
  await sql`
    insert into object_versions (bucket, key, version_id, size, sha256, etag, content_type, metadata, owner, is_latest)
    select ${BUCKET}, ${sql.raw(keyExpr)}, 'null', ${SAMPLE_BODY.length}, repeat('d', 64), ${etag},
           'application/octet-stream', '{}'::jsonb, 'bench', true
    from generate_series(0, ${count - 1}::int) i`.execute(db);
}
const SAMPLE_KEY = "format('sample/%s.bin', lpad(i::text, 6, '0'))";
const DELETE_KEY = "format('del/%s.bin', lpad(i::text, 6, '0'))";
const sampleKey = (i: number) => `sample/${String(i).padStart(6, "0")}.bin`;
const deleteKey = (i: number) => `del/${String(i).padStart(6, "0")}.bin`;

async function machineFacts(pool: pg.Pool): Promise<string[]> {
  const cpuinfo = await readFile("/proc/cpuinfo", "utf8").catch(() => "");
  const cpu = /^model name\s*:\s*(.+)$/m.exec(cpuinfo)?.[1] ?? "unknown";
  const { rows } = await pool.query("select version() as v, current_setting('shared_buffers') as sb");
  const commit = await run("git", ["rev-parse", "--short", "HEAD"], { cwd: REPO_ROOT })
    .then((r) => r.stdout.trim())
    .catch(() => "unknown");
  return [
    `- date: ${(await run("date", [])).stdout.trim()}`,
    `- commit: ${commit} (plus the working tree)`,
    `- nproc: ${(await run("nproc", [])).stdout.trim()}, CPU: ${cpu}, memory: ${(totalmem() / 1024 ** 3).toFixed(1)} GiB`,
    `- Node: ${process.version}`,
    `- PostgreSQL: ${String(rows[0]?.v).split(" on ")[0]}, shared_buffers ${rows[0]?.sb}`,
  ];
}

async function main(): Promise<void> {
  const sizes = listKnob("BENCH_SCALE_ROWS", [10_000, 100_000, 1_000_000, 10_000_000], 1000);
  const pages = intKnob("BENCH_SCALE_PAGES", 50, 1);
  const oldPages = intKnob("BENCH_SCALE_OLD_PAGES", 5, 1);
  const reconcileMax = intKnob("BENCH_SCALE_RECONCILE_MAX", 1_000_000);
  const sample = intKnob("BENCH_SCALE_SAMPLE", 2000);
  const deleteCount = intKnob("BENCH_SCALE_DELETE", 100_000);
  const began = performance.now();

  let own: OwnDatabase | undefined;
  let minio: MinioServer | undefined;
  let pool: pg.Pool | undefined;
  try {
    own = await sharedPostgres("scale_bench");
    const url = own.settings.url?.reveal() ?? "";
    await (await openDatabase(own.settings)).destroy(); // migrations
    pool = new pg.Pool({ connectionString: url, max: 4 });
    const db = new Kysely<DatabaseSchema>({ dialect: new PostgresDialect({ pool }) });
    const repo = new MetadataRepository(db);
    const facts = await machineFacts(pool);

    minio = await startMinio();
    const env: Record<string, string> = {
      NODE_ENV: "production",
      LOG_LEVEL: "silent",
      STORAGE_BACKEND: "minio",
      MINIO_ENDPOINT: minio.endpoint,
      MINIO_ACCESS_KEY: minio.accessKey,
      MINIO_SECRET_KEY: minio.secretKey,
      DATABASE_URL: url,
    };
    const s3 = createS3Client(loadConfig(env).s3);
    await s3.send(new CreateBucketCommand({ Bucket: BUCKET }));
    progress(`putting ${sample} sample objects into MinIO`);
    const sampleEtag = await putObjects(
      s3,
      Array.from({ length: sample }, (_, i) => sampleKey(i)),
    );

    const listing: string[][] = [];
    const whole: string[][] = [];
    for (const size of sizes) {
      const folders = Math.max(1, Math.floor(size / 1000));
      await sql`truncate object_versions`.execute(db);
      const started = performance.now();
      await seedIndex(db, { bucket: BUCKET, folders, files: 1000, deepFiles: 1000 });
      await indexObjects(db, SAMPLE_KEY, sample, sampleEtag);
      await sql`vacuum analyze object_versions`.execute(db);
      const rows = seededRows({ bucket: BUCKET, folders, files: 1000, deepFiles: 1000 }) + sample;
      progress(`${size}: seeded ${rows} rows in ${((performance.now() - started) / 1000).toFixed(1)} s`);
      for (const shape of shapes(folders)) {
        const after = await timePages((o) => repo.list(BUCKET, o), shape, pages);
        const before = await timePages((o) => oldList(db, BUCKET, o), shape, oldPages);
        listing.push([
          size.toLocaleString("en"),
          shape.name,
          `${ms(percentile(before, 50))} / ${ms(percentile(before, 99))}`,
          `${ms(percentile(after, 50))} / ${ms(percentile(after, 99))}`,
        ]);
        progress(
          `${size}: ${shape.name}: before p50 ${ms(percentile(before, 50))} ms, after p50 ${ms(percentile(after, 50))} ms, p99 ${ms(percentile(after, 99))} ms`,
        );
      }
      if (size <= reconcileMax) {
        const r = await spawnWorker({ op: "reconcile", bucket: BUCKET }, env);
        const rate = (r.objects + r.rows) / r.seconds;
        whole.push([
          size.toLocaleString("en"),
          `reconcile dry run: ${r.objects} objects, ${r.rows.toLocaleString("en")} rows`,
          `${r.seconds.toFixed(1)} s`,
          `${Math.round(rate).toLocaleString("en")} keys/s`,
          memory(r),
        ]);
        progress(
          `${size}: reconcile ${r.seconds.toFixed(1)} s, ${Math.round(rate)} keys/s, peak RSS ${(r.maxRssKiB / 1024).toFixed(0)} MiB`,
        );
      }
    }

    if (deleteCount > 0) {
      const size = sizes.at(-1) ?? 0;
      const started = performance.now();
      progress(`putting ${deleteCount} objects under del/ into MinIO`);
      const etag = await putObjects(
        s3,
        Array.from({ length: deleteCount }, (_, i) => deleteKey(i)),
      );
      await indexObjects(db, DELETE_KEY, deleteCount, etag);
      await sql`analyze object_versions`.execute(db);
      progress(`put and indexed in ${((performance.now() - started) / 1000).toFixed(1)} s`);
      const r = await spawnWorker({ op: "delete", bucket: BUCKET, prefix: "del/" }, env);
      whole.push([
        size.toLocaleString("en"),
        `delete by prefix: ${r.objects.toLocaleString("en")} MinIO objects (${r.failed} failed)`,
        `${r.seconds.toFixed(1)} s`,
        `${Math.round(r.objects / r.seconds).toLocaleString("en")} objects/s`,
        memory(r),
      ]);
    }

    const out = [
      "## Machine",
      ...facts,
      `- total run time: ${((performance.now() - began) / 60_000).toFixed(1)} min`,
      "",
      `## Listing: one ${PAGE}-entry page, p50 / p99 in ms (before: ${oldPages} pages, the grouping query; after: ${pages} pages)`,
      "",
      table(["index rows (latest)", "listing", "before p50 / p99", "after p50 / p99"], listing),
      "",
      "## Whole-bucket passes (each in a fresh process; peak RSS is the process's; live heap: the most in use after V8's own full collections)",
      "",
      table(["index rows (latest)", "pass", "time", "throughput", "peak RSS"], whole),
    ];
    process.stdout.write(`${out.join("\n")}\n`);
  } finally {
    await pool?.end();
    await minio?.destroy();
    await own?.drop();
  }
}

await main();
