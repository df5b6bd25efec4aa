import { type ChildProcess, execFile, spawn } from "node:child_process";
import { randomFillSync } from "node:crypto";
import { mkdtemp, open, readFile, rm } from "node:fs/promises";
import { loadavg, tmpdir, totalmem } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { findMinioBinary, type MinioServer, startMinio } from "../test/support/minio.ts";
import { cpuSecondsOf, findMinioPid } from "./proc.ts";
import { measureTransports, type TransportInputs } from "./transports.ts";
import { CONFIG_ENV_VAR, type WorkerJob, type WorkerResult } from "./worker.ts";

/**
 * `npm run bench`: StorageService against the bare S3 client on a private MinIO, each measurement in
 * a fresh worker process (bench/worker.ts) so its peak RSS is its own. Prints markdown tables. Exits 0
 * when a target is missed (it is a report); non-zero only when the benchmark itself fails.
 * Knobs: see docs/benchmarks.md ("How to run").
 */

const MiB = 1024 * 1024;
const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const WORKER = join(REPO_ROOT, "bench/worker.ts");
const WORKER_TIMEOUT_MS = 15 * 60_000;
const TARGETS = { upload: 0.9, download: 0.95, rssGrowthMiB: 64 };
const RSS_SMALL_MIB = 100;

const run = promisify(execFile);

/** A worker's result plus the CPU MinIO spent while that worker ran. */
type Measured = WorkerResult & { minioCpuSeconds?: number };

function intKnob(name: string, fallback: number, min: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === "") return fallback;
  const value = Number(raw);
  if (!Number.isSafeInteger(value) || value < min)
    throw new Error(`${name} must be a whole number >= ${min}`);
  return value;
}

const sizeLabel = (mib: number) => (mib % 1024 === 0 ? `${mib / 1024} GiB` : `${mib} MiB`);
const mibPerSec = (r: WorkerResult) => r.bytes / MiB / r.seconds;
const fixed = (n: number | undefined, digits = 1) => (n === undefined ? "n/a" : n.toFixed(digits));
const kibToMiB = (kib: number | undefined) => (kib === undefined ? undefined : kib / 1024);

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  if (sorted.length % 2 === 1) return sorted[mid] ?? Number.NaN;
  return ((sorted[mid - 1] ?? Number.NaN) + (sorted[mid] ?? Number.NaN)) / 2;
}

function table(header: string[], rows: string[][]): string {
  const line = (cells: string[]) => `| ${cells.join(" | ")} |`;
  return [line(header), line(header.map(() => "---")), ...rows.map(line)].join("\n");
}

/** Random bytes behind a fixed ASCII header, so the content sniffer never mistakes them for a known type. */
async function writeRandomFile(path: string, mib: number): Promise<void> {
  const file = await open(path, "w");
  try {
    const chunk = Buffer.allocUnsafe(8 * MiB);
    for (let written = 0; written < mib * MiB; written += chunk.length) {
      randomFillSync(chunk);
      if (written === 0) chunk.write("LUMENSLATE-BENCH", 0, "latin1");
      await file.write(chunk, 0, Math.min(chunk.length, mib * MiB - written));
    }
  } finally {
    await file.close();
  }
}

async function machineFacts(minioDataDir: string): Promise<string[]> {
  const text = async (cmd: string, args: string[]) => (await run(cmd, args)).stdout.trim();
  const cpuinfo = await readFile("/proc/cpuinfo", "utf8").catch(() => "");
  const cpu = /^model name\s*:\s*(.+)$/m.exec(cpuinfo)?.[1] ?? "unknown";
  const flags = /^flags\s*:\s*(.+)$/m.exec(cpuinfo)?.[1]?.split(" ") ?? [];
  const minio = await findMinioBinary();
  const minioVersion = (await text(minio, ["--version"])).split("\n")[0] ?? "unknown";
  const pin = (await readFile(join(REPO_ROOT, "tools/minio-version"), "utf8").catch(() => "")).trim();
  const fsType = await text("stat", ["-f", "-c", "%T", minioDataDir]).catch(() => "unknown");
  return [
    `- date: ${await text("date", [])}`,
    `- nproc: ${await text("nproc", [])}`,
    `- CPU: ${cpu}${flags.includes("sha_ni") ? " (SHA-NI)" : ""}`,
    `- memory: ${fixed(totalmem() / 1024 ** 3)} GiB`,
    `- Node: ${process.version}`,
    `- MinIO: ${minioVersion}${pin ? ` (pin ${pin})` : ""}`,
    `- MinIO data dir: ${minioDataDir} (${fsType})`,
    `- metadata index: ${process.env.DATABASE_URL ? "PostgreSQL server (DATABASE_URL)" : "embedded PGlite, in memory"}`,
  ];
}

let current: ChildProcess | undefined;

/** Runs one measurement in a fresh Node process and returns the JSON line it prints. */
function spawnWorker(job: WorkerJob, configEnv: Record<string, string>): Promise<WorkerResult> {
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, [WORKER, JSON.stringify(job)], {
      cwd: REPO_ROOT,
      env: { ...process.env, [CONFIG_ENV_VAR]: JSON.stringify(configEnv) },
      stdio: ["ignore", "pipe", "inherit"],
    });
    current = child;
    let stdout = "";
    child.stdout?.setEncoding("utf8").on("data", (chunk: string) => {
      stdout += chunk;
    });
    const timer = setTimeout(() => child.kill("SIGKILL"), WORKER_TIMEOUT_MS);
    child.once("error", fail);
    child.once("close", (code, signal) => {
      clearTimeout(timer);
      current = undefined;
      const last = stdout.trim().split("\n").pop() ?? "";
      if (code !== 0 || !last.startsWith("{")) {
        fail(new Error(`worker ${job.op} ${signal ? `killed by ${signal}` : `exited with code ${code}`}`));
        return;
      }
      done(JSON.parse(last) as WorkerResult);
    });
  });
}

interface Results {
  sizeMiB: number;
  smallMiB: number;
  repeats: number;
  runs: { du: Measured; su: Measured; dd: Measured; sd: Measured }[];
  small: Measured;
  large: Measured;
  directSmall: Measured;
  directLarge: Measured;
}

/** Part 1's results (undefined when BENCH_CORE=0) and what part 2 needs. */
async function measureAll(
  tempRoot: string,
  minio: MinioServer,
): Promise<{ core: Results | undefined; inputs: TransportInputs }> {
  const sizeMiB = intKnob("BENCH_SIZE_MIB", 1024, 1);
  const repeats = intKnob("BENCH_REPEATS", 3, 1);
  const smallMiB = Math.min(RSS_SMALL_MIB, sizeMiB);
  const progress = (msg: string) => process.stderr.write(`bench: ${msg}\n`);

  const bigFile = join(tempRoot, `random-${sizeMiB}MiB.bin`);
  const smallFile = join(tempRoot, `random-${smallMiB}MiB.bin`);
  progress(`writing ${sizeLabel(sizeMiB)} and ${sizeLabel(smallMiB)} of random bytes to ${tempRoot}`);
  await writeRandomFile(bigFile, sizeMiB);
  if (smallFile !== bigFile) await writeRandomFile(smallFile, smallMiB);

  const configEnv: Record<string, string> = {
    NODE_ENV: "production",
    LOG_LEVEL: "silent",
    STORAGE_BACKEND: "minio",
    MINIO_ENDPOINT: minio.endpoint,
    MINIO_ACCESS_KEY: minio.accessKey,
    MINIO_SECRET_KEY: minio.secretKey,
    PGLITE_DATA_DIR: "memory://",
    STORAGE_MAX_FILE_SIZE: "2GiB",
  };
  // A production deployment keeps its index in a PostgreSQL server; DATABASE_URL measures that.
  if (process.env.DATABASE_URL) configEnv.DATABASE_URL = process.env.DATABASE_URL;
  // Multipart settings pass through so a run can compare part sizes; both sides use the same ones.
  for (const name of ["STORAGE_MULTIPART_PART_SIZE", "STORAGE_MULTIPART_CONCURRENCY"]) {
    const value = process.env[name];
    if (value) configEnv[name] = value;
  }
  const bucket = (await spawnWorker({ op: "setup" }, configEnv)).bucket ?? "";
  const minioPid = await findMinioPid(minio.port);
  const inputs = { configEnv, bigFile, smallFile, sizeMiB, smallMiB, repeats, minioPid };
  if (process.env.BENCH_CORE === "0") return { core: undefined, inputs };

  const step = async (label: string, job: WorkerJob): Promise<Measured> => {
    await run("sync", []); // so one measurement's disk writeback does not land in the next one
    const before = await cpuSecondsOf(minioPid);
    const result = await spawnWorker(job, configEnv);
    const after = await cpuSecondsOf(minioPid);
    const minioCpu = before !== undefined && after !== undefined ? after - before : undefined;
    progress(
      `${label}: ${fixed(mibPerSec(result))} MiB/s, Node CPU ${fixed(result.cpuSeconds, 2)} s, ` +
        `MinIO CPU ${fixed(minioCpu, 2)} s, peak RSS ${fixed(kibToMiB(result.maxRssKiB))} MiB`,
    );
    return { ...result, ...(minioCpu !== undefined ? { minioCpuSeconds: minioCpu } : {}) };
  };
  const direct = { bucket, key: `bench/direct-${sizeMiB}.bin` };
  const service = { bucket, key: `bench/service-${sizeMiB}.bin` };
  const runs: Results["runs"] = [];
  // Direct and service alternate, so drift on the machine hits both alike.
  for (let i = 1; i <= repeats; i++) {
    const n = `${i}/${repeats}`;
    const du = await step(`direct upload ${n}`, { op: "direct-upload", ...direct, file: bigFile });
    const su = await step(`service upload ${n}`, { op: "service-upload", ...service, file: bigFile });
    if (!su.seed) throw new Error("the service upload returned no index row");
    const dd = await step(`direct download ${n}`, { op: "direct-download", ...direct });
    const sd = await step(`service download ${n}`, { op: "service-download", ...service, seed: su.seed });
    runs.push({ du, su, dd, sd });
  }
  // Peak RSS: one upload+download per process, small then large, through the service and (as a
  // reference for what the SDK and allocator alone do) directly.
  const roundTrip = (kind: "service" | "direct", mib: number, file: string) =>
    step(`${kind} upload+download ${sizeLabel(mib)}`, {
      op: `${kind}-roundtrip`,
      bucket,
      key: `bench/roundtrip-${kind}-${mib}.bin`,
      file,
    });
  const small = await roundTrip("service", smallMiB, smallFile);
  const large = await roundTrip("service", sizeMiB, bigFile);
  const directSmall = await roundTrip("direct", smallMiB, smallFile);
  const directLarge = await roundTrip("direct", sizeMiB, bigFile);
  return { core: { sizeMiB, smallMiB, repeats, runs, small, large, directSmall, directLarge }, inputs };
}

function report(r: Results): string[] {
  const out: string[] = [];
  const ratioRow = (op: string, direct: Measured[], service: Measured[], target: number) => {
    const d = median(direct.map(mibPerSec));
    const s = median(service.map(mibPerSec));
    const ratio = s / d;
    return [op, fixed(d), fixed(s), fixed(ratio, 3), `>= ${target}`, ratio >= target ? "pass" : "fail"];
  };
  const size = sizeLabel(r.sizeMiB);
  const pick = (k: "du" | "su" | "dd" | "sd") => r.runs.map((x) => x[k]);
  out.push(`## Throughput, ${size} (median of ${r.repeats})`, "");
  out.push(
    table(
      ["operation", "direct MiB/s", "service MiB/s", "ratio (service/direct)", "target", "pass/fail"],
      [
        ratioRow(`upload ${size}`, pick("du"), pick("su"), TARGETS.upload),
        ratioRow(`download ${size}`, pick("dd"), pick("sd"), TARGETS.download),
      ],
    ),
    "",
  );

  // CPU time barely moves with other load on the machine, wall time does: this shows the cost itself.
  const perGiB = (list: Measured[], get: (m: Measured) => number | undefined) => {
    const values = list.flatMap((m) => {
      const v = get(m);
      return v === undefined ? [] : [v / (m.bytes / 1024 ** 3)];
    });
    return values.length > 0 ? median(values) : undefined;
  };
  const cpuRow = (op: string, direct: Measured[], service: Measured[]) => {
    const d = perGiB(direct, (m) => m.cpuSeconds);
    const s = perGiB(service, (m) => m.cpuSeconds);
    const main = (list: Measured[]) =>
      fixed(
        perGiB(list, (m) => m.mainThreadCpuSeconds),
        2,
      );
    const minio = (list: Measured[]) =>
      fixed(
        perGiB(list, (m) => m.minioCpuSeconds),
        2,
      );
    return [
      op,
      `${fixed(d, 2)} (${main(direct)})`,
      `${fixed(s, 2)} (${main(service)})`,
      fixed(d !== undefined && s !== undefined ? s - d : undefined, 2),
      minio(direct),
      minio(service),
    ];
  };
  out.push(`## CPU seconds per GiB (median of ${r.repeats}; in brackets: the event-loop thread alone)`, "");
  out.push(
    table(
      ["operation", "direct: Node", "service: Node", "service extra", "direct: MinIO", "service: MinIO"],
      [cpuRow("upload", pick("du"), pick("su")), cpuRow("download", pick("dd"), pick("sd"))],
    ),
    "",
  );

  const growth = (m: Measured) =>
    m.transferMaxRssKiB !== undefined && m.startRssKiB !== undefined
      ? m.transferMaxRssKiB - m.startRssKiB
      : undefined;
  const rssRow = (label: string, pair: [Measured, Measured], get: (m: Measured) => number | undefined) => {
    const a = kibToMiB(get(pair[0]));
    const b = kibToMiB(get(pair[1]));
    const diff = a !== undefined && b !== undefined ? b - a : undefined;
    const verdict = diff === undefined ? "n/a" : diff <= TARGETS.rssGrowthMiB ? "pass" : "fail";
    return [label, fixed(a), fixed(b), fixed(diff), `<= ${TARGETS.rssGrowthMiB}`, verdict];
  };
  const service: [Measured, Measured] = [r.small, r.large];
  const direct: [Measured, Measured] = [r.directSmall, r.directLarge];
  const noVerdict = (cells: string[]) => cells.map((c, i) => (i > 3 ? "" : c));
  out.push("## Peak RSS (MiB) of one upload+download per process", "");
  out.push(
    table(
      ["measure", sizeLabel(r.smallMiB), size, "difference", "target", "pass/fail"],
      [
        rssRow("service: whole process (maxRSS)", service, (m) => m.maxRssKiB),
        rssRow("service: transfer only (maxRSS reset at start)", service, (m) => m.transferMaxRssKiB),
        rssRow("service: growth during the transfer (peak - start)", service, growth),
        noVerdict(rssRow("service: RSS when the transfer started", service, (m) => m.startRssKiB)),
        noVerdict(rssRow("direct (reference): growth during the transfer", direct, growth)),
      ],
    ),
    "",
  );

  out.push("## Every measurement", "");
  const row = (run: number, op: string, m: Measured) => [
    String(run),
    op,
    fixed(mibPerSec(m)),
    fixed(m.seconds, 2),
    `${fixed(m.cpuSeconds, 2)} (${fixed(m.mainThreadCpuSeconds, 2)})`,
    fixed(m.minioCpuSeconds, 2),
    fixed(kibToMiB(m.startRssKiB)),
    fixed(kibToMiB(m.transferMaxRssKiB ?? m.maxRssKiB)),
  ];
  const rows = r.runs.flatMap((x, i) => [
    row(i + 1, "direct upload", x.du),
    row(i + 1, "service upload", x.su),
    row(i + 1, "direct download", x.dd),
    row(i + 1, "service download", x.sd),
  ]);
  rows.push(row(1, `service up+down ${sizeLabel(r.smallMiB)}`, r.small));
  rows.push(row(1, `service up+down ${size}`, r.large));
  rows.push(row(1, `direct up+down ${sizeLabel(r.smallMiB)}`, r.directSmall));
  rows.push(row(1, `direct up+down ${size}`, r.directLarge));
  out.push(
    table(
      [
        "run",
        "operation",
        "MiB/s",
        "wall s",
        "Node CPU s (event loop)",
        "MinIO CPU s",
        "RSS at start MiB",
        "peak RSS MiB",
      ],
      rows,
    ),
  );
  return out;
}

async function main(): Promise<void> {
  let minio: MinioServer | undefined;
  let tempRoot: string | undefined;
  let cleaning: Promise<void> | undefined;
  const cleanup = () => {
    cleaning ??= (async () => {
      current?.kill("SIGKILL");
      await minio?.destroy().catch(() => {});
      if (tempRoot) await rm(tempRoot, { recursive: true, force: true }).catch(() => {});
    })();
    return cleaning;
  };
  // `on`, not `once`: a listener that stays keeps the MinIO harness from re-raising the signal
  // before the temp files are gone.
  for (const [signal, code] of [
    ["SIGINT", 130],
    ["SIGTERM", 143],
    ["SIGHUP", 129],
  ] as const) {
    process.on(signal, () => {
      process.stderr.write(`bench: ${signal}, cleaning up\n`);
      void cleanup().finally(() => process.exit(code));
    });
  }
  try {
    tempRoot = await mkdtemp(join(tmpdir(), "lumenslate-bench-"));
    minio = await startMinio();
    const loadBefore = loadavg()[0] ?? 0;
    const results = await measureAll(tempRoot, minio);
    const transportLines =
      process.env.BENCH_TRANSPORTS === "0" ? [] : await measureTransports(results.inputs);
    const loadAfter = loadavg()[0] ?? 0;
    const facts = await machineFacts(minio.dataDir);
    facts.push(`- load average (1 min) at start / end: ${fixed(loadBefore, 2)} / ${fixed(loadAfter, 2)}`);
    const { inputs, core } = results;
    const title = `# lumenslate-storage benchmark: ${sizeLabel(inputs.sizeMiB)}, ${inputs.repeats} repeat(s)`;
    const coreLines = core ? report(core) : [];
    process.stdout.write(`${[title, "", ...facts, "", ...coreLines, ...transportLines].join("\n")}\n`);
  } finally {
    await cleanup();
  }
}

try {
  await main();
} catch (err) {
  console.error(`bench failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
  process.exitCode = 1;
}
// Everything is cleaned up by now; a handle left referenced elsewhere must not keep `npm run bench` open.
process.exit();
