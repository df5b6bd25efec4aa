import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdir, stat } from "node:fs/promises";
import { resolve } from "node:path";
import { createInterface } from "node:readline";
import type { Readable } from "node:stream";
import type { S3Client } from "@aws-sdk/client-s3";
import { createS3Client } from "../src/backends/s3/client.ts";
import { loadConfig } from "../src/config/config.ts";
import { type Clients, clients } from "./clients.ts";
import { directPath } from "./direct-path.ts";
import {
  curlMissing,
  curlTransfer,
  pythonMissing,
  pythonTransfer,
  type Transfer,
} from "./external-clients.ts";
import { cpuDuring, peakMiB, resetPeak } from "./proc.ts";
import { SMALL_OBJECT, type SmallResult, smallWorkload } from "./small-objects.ts";
import {
  type LargePair,
  type LargeSample,
  largeTable,
  type RssResult,
  rssTable,
  type SmallRow,
  smallTable,
} from "./transport-report.ts";

/**
 * The HTTP and gRPC faces measured against direct S3 clients on the same MinIO, in one run: large
 * transfers (MiB/s, ratio, service and MinIO CPU per GiB) from Node, Python and curl; 64 KiB PUTs
 * and GETs at concurrency (ops/s, p50, p99, CPU per operation); the server's peak RSS per transfer
 * size. The service runs as its own process (bench/server.ts), so its CPU and RSS are its own.
 */

export interface TransportInputs {
  configEnv: Record<string, string>;
  bigFile: string;
  smallFile: string;
  sizeMiB: number;
  smallMiB: number;
  repeats: number;
  minioPid: number | undefined;
}

export interface Server {
  child: ChildProcess;
  httpPort: number;
  grpcPort: number;
  token: string;
  bucket: string;
}

const progress = (msg: string) => process.stderr.write(`bench: ${msg}\n`);
const f = (n: number, d = 1) => (Number.isFinite(n) ? n.toFixed(d) : "n/a");

async function startServer(
  configEnv: Record<string, string>,
  profileDir: string | undefined,
): Promise<Server> {
  // BENCH_SERVER_NODE_ARGS: extra Node flags for the server only, e.g. "--cpu-prof --cpu-prof-dir=prof".
  const nodeArgs = (process.env.BENCH_SERVER_NODE_ARGS ?? "").split(" ").filter(Boolean);
  const child = spawn(process.execPath, [...nodeArgs, "bench/server.ts"], {
    env: {
      ...process.env,
      BENCH_CONFIG_ENV: JSON.stringify({ ...configEnv, RATE_LIMIT_ENABLED: "false" }),
      BENCH_PROFILE_DIR: profileDir ?? "",
    },
    // The IPC channel carries the profile start/stop requests (bench/server-profiler.ts).
    stdio: profileDir ? ["ignore", "pipe", "inherit", "ipc"] : ["ignore", "pipe", "inherit"],
  });
  // Anything else the server prints (e.g. --trace-gc from BENCH_SERVER_NODE_ARGS) goes to stderr,
  // and stdout keeps being read, so a chatty server never blocks on a full pipe.
  const lines = createInterface({ input: child.stdout as Readable });
  let ready: Omit<Server, "child"> | undefined;
  const listening = new Promise<Omit<Server, "child">>((resolve, reject) => {
    lines.on("line", (line) => {
      if (ready || !line.startsWith("{")) {
        process.stderr.write(`server: ${line}\n`);
        return;
      }
      ready = JSON.parse(line) as Omit<Server, "child">;
      resolve(ready);
    });
    lines.once("close", () => reject(new Error("bench server exited before listening")));
  });
  return { child, ...(await listening) };
}

/** Runs work under a server CPU profile named `name` when profiling (BENCH_PROFILE_DIR), else just runs it. */
type Profiled = <T>(name: string, work: () => Promise<T>) => Promise<T>;

function profiler(server: Server, dir: string | undefined): Profiled {
  const { child } = server;
  if (!dir) return (_name, work) => work();
  const ask = (message: object) =>
    new Promise<void>((resolve, reject) => {
      child.once("message", (answer: { error?: string; profiled?: string }) => {
        if (answer.error) reject(new Error(`server profiler: ${answer.error}`));
        else {
          if (answer.profiled) progress(`CPU profile: ${answer.profiled}`);
          resolve();
        }
      });
      child.send(message);
    });
  return async (name, work) => {
    await ask({ profile: "start" });
    const result = await work();
    await ask({ profile: "stop", name });
    return result;
  };
}

/** A large-transfer client: up and down return the transfer's wall seconds (and extras). */
interface LargeClient {
  label: string;
  /** Through the service (profiled when profiling), not straight to MinIO. */
  service: boolean;
  skipped?: string;
  up(key: string, file: string): Promise<Transfer>;
  down(key: string): Promise<Transfer>;
}

function largeClients(
  t: Clients,
  server: Server,
  config: ReturnType<typeof loadConfig>,
  size: number,
  missing: { python?: string; curl?: string; directPath?: string },
): Record<string, LargeClient> {
  const timed = async (work: () => Promise<unknown>): Promise<Transfer> => {
    const start = process.hrtime.bigint();
    await work();
    return { seconds: Number(process.hrtime.bigint() - start) / 1e9, bytes: size };
  };
  const { bucket } = server;
  const s3 = config.s3;
  const py = {
    grpcAddress: `127.0.0.1:${server.grpcPort}`,
    token: server.token,
    endpoint: s3.endpoint ?? "",
    accessKey: s3.accessKeyId?.reveal() ?? "",
    secretKey: s3.secretAccessKey?.reveal() ?? "",
    region: s3.region,
    partSize: config.storage.multipart.partSize,
    concurrency: config.storage.multipart.concurrency,
  };
  const direct = directPath(
    server,
    size,
    config.storage.multipart.partSize,
    config.storage.multipart.concurrency,
  );
  const url = (key: string) => `http://127.0.0.1:${server.httpPort}/v1/buckets/${bucket}/objects/${key}`;
  return {
    sdk: {
      label: "AWS SDK v3 (Node)",
      service: false,
      up: (key, file) => timed(() => t.direct.upFile(key, file, size)),
      down: (key) => timed(() => t.direct.get(key)),
    },
    http: {
      label: "node:http",
      service: true,
      up: (key, file) => timed(() => t.http.upFile(key, file, size)),
      down: (key) => timed(() => t.http.get(key)),
    },
    grpc: {
      label: "gRPC, TypeScript client",
      service: true,
      up: (key, file) => timed(() => t.grpc.upFile(key, file, size)),
      down: (key) => timed(() => t.grpc.get(key)),
    },
    boto3: {
      label: "boto3",
      service: false,
      ...(missing.python ? { skipped: missing.python } : {}),
      up: (key, file) => pythonTransfer("boto3-up", py, { bucket, key, file }),
      down: (key) => pythonTransfer("boto3-down", py, { bucket, key }),
    },
    pyGrpc: {
      label: "gRPC, Python client (grpcio)",
      service: true,
      ...(missing.python ? { skipped: missing.python } : {}),
      up: (key, file) => pythonTransfer("grpc-up", py, { bucket, key, file }),
      down: (key) => pythonTransfer("grpc-down", py, { bucket, key }),
    },
    boto3File: {
      label: "boto3 (download into a file)",
      service: false,
      ...(missing.python ? { skipped: missing.python } : {}),
      up: (key, file) => pythonTransfer("boto3-up", py, { bucket, key, file }),
      down: (key) => pythonTransfer("boto3-down-file", py, { bucket, key }),
    },
    pyDirect: {
      label: "Python client, direct path (into a file)",
      service: true,
      ...(missing.python
        ? { skipped: missing.python }
        : missing.directPath
          ? { skipped: missing.directPath }
          : {}),
      up: (key, file) => pythonTransfer("pydirect-up", py, { bucket, key, file }),
      down: (key) => pythonTransfer("pydirect-down", py, { bucket, key }),
    },
    directPath: {
      label: "direct path: upload session / presigned GET (fetch)",
      service: true,
      ...(missing.directPath ? { skipped: missing.directPath } : {}),
      up: (key, file) => direct.up(key, file),
      down: (key) => direct.down(key),
    },
    curl: {
      label: "curl (HTTP)",
      service: true,
      ...(missing.curl ? { skipped: missing.curl } : {}),
      up: (key, file) => curlTransfer("up", url(key), server.token, size, file),
      down: (key) => curlTransfer("down", url(key), server.token, size),
    },
  };
}

/**
 * Which service client is compared with which direct one, and the target ratio (issue 17): proxied
 * HTTP >= 0.90 up and 0.85 down, gRPC >= 0.70 both ways (set for the Python client, applied to the
 * TypeScript one too), the direct path >= 0.95 both ways.
 */
const PAIRS: { direct: string; service: string; up: number; down: number }[] = [
  { direct: "sdk", service: "http", up: 0.9, down: 0.85 },
  { direct: "sdk", service: "grpc", up: 0.7, down: 0.7 },
  { direct: "boto3", service: "curl", up: 0.9, down: 0.85 },
  { direct: "boto3", service: "pyGrpc", up: 0.7, down: 0.7 },
  { direct: "sdk", service: "directPath", up: 0.95, down: 0.95 },
  { direct: "boto3File", service: "pyDirect", up: 0.95, down: 0.95 },
];

async function measureLarge(
  inputs: TransportInputs,
  large: Record<string, LargeClient>,
  pids: { server: number; minio: number | undefined },
  profiled: Profiled,
): Promise<Map<string, { up: LargeSample[]; down: LargeSample[] }>> {
  const samples = new Map<string, { up: LargeSample[]; down: LargeSample[] }>();
  const measure = async (client: LargeClient, name: string, work: () => Promise<Transfer>) => {
    const run = client.service ? () => profiled(name, work) : work;
    const { result, cpu } = await cpuDuring([pids.server, pids.minio], run);
    return { ...result, serverCpu: cpu[0], minioCpu: cpu[1] } satisfies LargeSample;
  };
  // Rounds interleave every client, so drift on the machine hits them all alike.
  for (let i = 1; i <= inputs.repeats; i++) {
    for (const [id, client] of Object.entries(large)) {
      if (client.skipped) continue;
      const key = `bench/large-${id}.bin`;
      const entry = samples.get(id) ?? { up: [], down: [] };
      samples.set(id, entry);
      const up = await measure(client, `large-up-${id}-r${i}`, () => client.up(key, inputs.bigFile));
      const down = await measure(client, `large-down-${id}-r${i}`, () => client.down(key));
      entry.up.push(up);
      entry.down.push(down);
      const mibs = (s: LargeSample) => f(s.bytes / 2 ** 20 / s.seconds);
      progress(`${client.label} ${i}/${inputs.repeats}: up ${mibs(up)} MiB/s, down ${mibs(down)} MiB/s`);
    }
  }
  return samples;
}

async function measureRss(inputs: TransportInputs, t: Clients, pid: number): Promise<RssResult[]> {
  const rss: RssResult[] = [];
  for (const kind of ["http", "grpc"] as const) {
    const peaks: number[] = [];
    for (const file of [inputs.smallFile, inputs.bigFile]) {
      await resetPeak(pid);
      await t[kind].upFile(`bench/rss-${kind}.bin`, file, (await stat(file)).size);
      await t[kind].get(`bench/rss-${kind}.bin`);
      peaks.push(await peakMiB(pid));
    }
    rss.push({ kind, small: peaks[0] ?? 0, large: peaks[1] ?? 0 });
  }
  return rss;
}

/** 64 KiB PUTs, then GETs of the same keys, per client; rounds interleave the clients. */
async function measureSmall(
  t: Clients,
  ops: number,
  repeats: number,
  pids: { server: number; minio: number | undefined },
  profiled: Profiled,
): Promise<SmallRow[]> {
  const data = randomBytes(SMALL_OBJECT);
  data.write("LUMENSLATE-BENCH", 0, "latin1"); // so the content sniffer sees no known file type
  const kinds = ["direct", "http", "grpc"] as const;
  const results = new Map<string, SmallResult[]>();
  const add = (name: string, r: SmallResult) => results.set(name, [...(results.get(name) ?? []), r]);
  for (let round = 1; round <= repeats; round++) {
    for (const op of ["PUT", "GET"] as const) {
      for (const kind of kinds) {
        const key = (i: number) => `bench/small-${kind}/${i}.bin`;
        const work = () =>
          smallWorkload(
            op === "PUT" ? (i) => t[kind].put(key(i), data) : (i) => t[kind].get(key(i)),
            ops,
            pids,
          );
        const r = kind === "direct" ? await work() : await profiled(`small-${op}-${kind}-r${round}`, work);
        add(`${op} ${kind}`, r);
        progress(
          `64 KiB ${op} x ${ops} ${kind} ${round}/${repeats}: ${f(r.opsPerSec)} ops/s, p99 ${f(r.p99)} ms`,
        );
      }
    }
  }
  return [...results].map(([name, runs]) => {
    const [op, kind] = name.split(" ") as ["PUT" | "GET", (typeof kinds)[number]];
    return { op, kind, runs };
  });
}

export async function measureTransports(inputs: TransportInputs): Promise<string[]> {
  const config = loadConfig(inputs.configEnv);
  const s3: S3Client = createS3Client(config.s3);
  // BENCH_PROFILE_DIR: one server CPU profile per service workload, written there.
  const profileDir = process.env.BENCH_PROFILE_DIR ? resolve(process.env.BENCH_PROFILE_DIR) : undefined;
  if (profileDir) await mkdir(profileDir, { recursive: true });
  const server = await startServer(inputs.configEnv, profileDir);
  const pids = { server: server.child.pid ?? 0, minio: inputs.minioPid };
  const profiled = profiler(server, profileDir);
  const t = clients(server, s3, config);
  try {
    const size = (await stat(inputs.bigFile)).size;
    const missing = {
      python: await pythonMissing(),
      curl: await curlMissing(),
      directPath: await directPath(server, size, 0, 0).missing(),
    };
    for (const [name, why] of Object.entries(missing)) if (why) progress(`skipping ${name}: ${why}`);
    const large = largeClients(t, server, config, size, missing);
    // BENCH_LARGE=0: only the 64 KiB workloads (e.g. for their profiles).
    const withLarge = process.env.BENCH_LARGE !== "0";
    const samples = withLarge ? await measureLarge(inputs, large, pids, profiled) : undefined;
    const rss = withLarge ? await measureRss(inputs, t, pids.server) : undefined;
    const ops = Number(process.env.BENCH_SMALL_OPS ?? 2048);
    // BENCH_SMALL=0: only the large transfers.
    const small =
      process.env.BENCH_SMALL === "0"
        ? undefined
        : await measureSmall(t, ops, inputs.repeats, pids, profiled);

    const label = inputs.sizeMiB >= 1024 ? `${inputs.sizeMiB / 1024} GiB` : `${inputs.sizeMiB} MiB`;
    const pairs: LargePair[] = PAIRS.map((p) => ({
      ...p,
      directLabel: large[p.direct]?.label ?? p.direct,
      serviceLabel: large[p.service]?.label ?? p.service,
      skipped: large[p.direct]?.skipped ?? large[p.service]?.skipped,
      directSamples: samples?.get(p.direct),
      serviceSamples: samples?.get(p.service),
    }));
    return [
      ...(withLarge ? largeTable(label, inputs.repeats, pairs) : []),
      ...(small ? smallTable(ops, inputs.repeats, small) : []),
      ...(rss ? rssTable(label, inputs.smallMiB, rss) : []),
    ];
  } finally {
    t.close();
    s3.destroy();
    server.child.kill("SIGTERM");
  }
}
