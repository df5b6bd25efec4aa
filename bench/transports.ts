import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { createReadStream } from "node:fs";
import { readFile, stat, writeFile } from "node:fs/promises";
import { Agent, get, request } from "node:http";
import { createInterface } from "node:readline";
import type { Readable } from "node:stream";
import { Writable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { GetObjectCommand, PutObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import { Upload } from "@aws-sdk/lib-storage";
import { connect, type StorageClient } from "../packages/client/src/index.ts";
import { createS3Client } from "../src/backends/s3/client.ts";
import { loadConfig } from "../src/config/config.ts";

/**
 * The HTTP and gRPC faces measured against the direct S3 client on the same MinIO, in one run:
 * large transfers (MiB/s and ratio), small objects at concurrency (ops/s, p50, p99) and the server's
 * peak RSS per transfer size. The service runs as its own process (bench/server.ts); every client
 * runs here, so each side pays the same client costs.
 */

export interface TransportInputs {
  configEnv: Record<string, string>;
  bigFile: string;
  smallFile: string;
  sizeMiB: number;
  smallMiB: number;
  repeats: number;
}

interface Server {
  child: ChildProcess;
  httpPort: number;
  grpcPort: number;
  token: string;
  bucket: string;
}

const MiB = 1024 * 1024;
const SMALL_OBJECT = 64 * 1024;
const CONCURRENCY = 32;

class Discard extends Writable {
  bytes = 0;
  override _write(chunk: Buffer, _e: BufferEncoding, cb: (err?: Error | null) => void): void {
    this.bytes += chunk.length;
    cb();
  }
}

async function startServer(configEnv: Record<string, string>): Promise<Server> {
  // BENCH_SERVER_NODE_ARGS: extra Node flags for the server only, e.g. "--cpu-prof --cpu-prof-dir=prof".
  const nodeArgs = (process.env.BENCH_SERVER_NODE_ARGS ?? "").split(" ").filter(Boolean);
  const child = spawn(process.execPath, [...nodeArgs, "bench/server.ts"], {
    env: { ...process.env, BENCH_CONFIG_ENV: JSON.stringify({ ...configEnv, RATE_LIMIT_ENABLED: "false" }) },
    stdio: ["ignore", "pipe", "inherit"],
  });
  const lines = createInterface({ input: child.stdout as Readable });
  for await (const line of lines) {
    lines.close();
    return { child, ...(JSON.parse(line) as Omit<Server, "child">) };
  }
  throw new Error("bench server exited before listening");
}

/** Resets the server's RSS high-water mark (Linux clear_refs) and reads it back later, in MiB. */
const resetPeak = (pid: number) => writeFile(`/proc/${pid}/clear_refs`, "5").catch(() => {});
async function peakMiB(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, "utf8");
  return Number(/VmHWM:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024;
}

function timed(work: () => Promise<unknown>): Promise<number> {
  const start = process.hrtime.bigint();
  return work().then(() => Number(process.hrtime.bigint() - start) / 1e9);
}

function transports(server: Server, s3: S3Client, config: ReturnType<typeof loadConfig>) {
  const agent = new Agent({ keepAlive: true, maxSockets: CONCURRENCY });
  const grpc: StorageClient = connect(`127.0.0.1:${server.grpcPort}`, { token: server.token });
  const { bucket } = server;
  const path = (key: string) => `/v1/buckets/${bucket}/objects/${key}`;
  const auth = { authorization: `Bearer ${server.token}` };

  const httpPut = (key: string, body: Readable | Buffer, size: number) =>
    new Promise<void>((resolve, reject) => {
      const req = request(
        {
          host: "127.0.0.1",
          port: server.httpPort,
          method: "PUT",
          path: path(key),
          agent,
          headers: { ...auth, "content-type": "application/octet-stream", "content-length": size },
        },
        (res) => {
          res.resume();
          res.once("end", () =>
            res.statusCode === 201 ? resolve() : reject(new Error(`HTTP ${res.statusCode}`)),
          );
        },
      );
      req.once("error", reject);
      if (Buffer.isBuffer(body)) req.end(body);
      else pipeline(body, req).catch(reject);
    });

  const httpGet = (key: string) =>
    new Promise<number>((resolve, reject) => {
      get({ host: "127.0.0.1", port: server.httpPort, path: path(key), agent, headers: auth }, (res) => {
        if (res.statusCode !== 200) reject(new Error(`HTTP ${res.statusCode}`));
        const sink = new Discard();
        pipeline(res, sink).then(() => resolve(sink.bytes), reject);
      }).once("error", reject);
    });

  const large = {
    direct: {
      up: (key: string, file: string) =>
        new Upload({
          client: s3,
          params: { Bucket: bucket, Key: key, Body: createReadStream(file, { highWaterMark: MiB }) },
          partSize: config.storage.multipart.partSize,
          queueSize: config.storage.multipart.concurrency,
        }).done(),
      down: async (key: string) => {
        const out = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
        await pipeline(out.Body as Readable, new Discard());
      },
    },
    http: {
      up: async (key: string, file: string) =>
        httpPut(key, createReadStream(file, { highWaterMark: MiB }), (await stat(file)).size),
      down: (key: string) => httpGet(key),
    },
    grpc: {
      up: (key: string, file: string) => grpc.uploadFile(file, { bucket, objectName: key }),
      down: async (key: string) => {
        const d = await grpc.downloadStream({ bucket, objectName: key });
        await pipeline(d.stream, new Discard());
      },
    },
  };
  const small = {
    direct: (key: string, data: Buffer) =>
      s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: data })),
    http: (key: string, data: Buffer) => httpPut(key, data, data.length),
    grpc: (key: string, data: Buffer) => grpc.upload(data, { bucket, objectName: key }),
  };
  return {
    large,
    small,
    close: () => {
      grpc.close();
      agent.destroy();
    },
  };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)] ?? Number.NaN;
const pct = (xs: number[], p: number) =>
  [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(p * xs.length))] ?? Number.NaN;
const f = (n: number, d = 1) => (Number.isFinite(n) ? n.toFixed(d) : "n/a");
const row = (cells: (string | number)[]) => `| ${cells.join(" | ")} |`;
const verdict = (ok: boolean) => (ok ? "pass" : "fail");

async function smallObjects(
  put: (key: string, data: Buffer) => Promise<unknown>,
  label: string,
  ops: number,
) {
  const data = randomBytes(SMALL_OBJECT);
  const latencies: number[] = [];
  let next = 0;
  const start = process.hrtime.bigint();
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < ops) {
        const i = next++;
        const t = process.hrtime.bigint();
        await put(`bench/small-${label}/${i}.bin`, data);
        latencies.push(Number(process.hrtime.bigint() - t) / 1e6);
      }
    }),
  );
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  return { opsPerSec: ops / seconds, p50: pct(latencies, 0.5), p99: pct(latencies, 0.99) };
}

export async function measureTransports(inputs: TransportInputs): Promise<string[]> {
  const progress = (msg: string) => process.stderr.write(`bench: ${msg}\n`);
  const config = loadConfig(inputs.configEnv);
  const s3 = createS3Client(config.s3);
  const server = await startServer(inputs.configEnv);
  const pid = server.child.pid ?? 0;
  const t = transports(server, s3, config);
  try {
    const size = (await stat(inputs.bigFile)).size;
    const mibs = (seconds: number) => size / MiB / seconds;
    const kinds = ["direct", "http", "grpc"] as const;
    const up: Record<string, number[]> = { direct: [], http: [], grpc: [] };
    const down: Record<string, number[]> = { direct: [], http: [], grpc: [] };
    for (let i = 1; i <= inputs.repeats; i++) {
      for (const kind of kinds) {
        const key = `bench/large-${kind}.bin`;
        up[kind]?.push(mibs(await timed(() => t.large[kind].up(key, inputs.bigFile))));
        down[kind]?.push(mibs(await timed(() => t.large[kind].down(key))));
        progress(
          `${kind} ${i}/${inputs.repeats}: up ${f(up[kind]?.at(-1) ?? 0)} MiB/s, down ${f(down[kind]?.at(-1) ?? 0)} MiB/s`,
        );
      }
    }
    const rss: { kind: string; small: number; large: number }[] = [];
    for (const kind of ["http", "grpc"] as const) {
      const peaks: number[] = [];
      for (const file of [inputs.smallFile, inputs.bigFile]) {
        await resetPeak(pid);
        await t.large[kind].up(`bench/rss-${kind}.bin`, file);
        await t.large[kind].down(`bench/rss-${kind}.bin`);
        peaks.push(await peakMiB(pid));
      }
      rss.push({ kind, small: peaks[0] ?? 0, large: peaks[1] ?? 0 });
    }
    const ops = Number(process.env.BENCH_SMALL_OPS ?? 2048);
    const smallResults: Record<string, { opsPerSec: number; p50: number; p99: number }> = {};
    for (const kind of kinds) {
      smallResults[kind] = await smallObjects(t.small[kind], kind, ops);
      progress(`64 KiB x ${ops} ${kind}: ${f(smallResults[kind].opsPerSec)} ops/s`);
    }

    const label = inputs.sizeMiB >= 1024 ? `${inputs.sizeMiB / 1024} GiB` : `${inputs.sizeMiB} MiB`;
    const out = [
      "",
      `## HTTP and gRPC against the direct S3 client, ${label} (median of ${inputs.repeats})`,
      "",
      row([
        "operation",
        "direct MiB/s",
        "HTTP MiB/s",
        "HTTP ratio",
        "gRPC MiB/s",
        "gRPC ratio",
        "target",
        "HTTP",
        "gRPC",
      ]),
      row(["---", "---", "---", "---", "---", "---", "---", "---", "---"]),
    ];
    for (const [name, values, target] of [
      [`upload ${label}`, up, 0.9],
      [`download ${label}`, down, 0.95],
    ] as const) {
      const d = median(values.direct ?? []);
      const h = median(values.http ?? []);
      const g = median(values.grpc ?? []);
      out.push(
        row([
          name,
          f(d),
          f(h),
          f(h / d, 3),
          f(g),
          f(g / d, 3),
          `>= ${target}`,
          verdict(h / d >= target),
          verdict(g / d >= target),
        ]),
      );
    }
    out.push(
      "",
      `## 64 KiB objects, ${ops} uploads at concurrency ${CONCURRENCY}`,
      "",
      row(["client", "ops/s", "ratio to direct", "p50 ms", "p99 ms"]),
      row(["---", "---", "---", "---", "---"]),
    );
    const direct = smallResults.direct?.opsPerSec ?? Number.NaN;
    for (const kind of kinds) {
      const r = smallResults[kind];
      if (r) out.push(row([kind, f(r.opsPerSec), f(r.opsPerSec / direct, 3), f(r.p50, 2), f(r.p99, 2)]));
    }
    out.push(
      "",
      "Target: gRPC ops/s at least 0.75 of direct.",
      "",
      `## Server peak RSS (MiB) during one upload + download (server process only)`,
      "",
      row(["protocol", `${inputs.smallMiB} MiB`, label, "difference", "target", "pass/fail"]),
      row(["---", "---", "---", "---", "---", "---"]),
    );
    for (const r of rss) {
      out.push(
        row([
          r.kind,
          f(r.small),
          f(r.large),
          f(r.large - r.small),
          "<= 64",
          verdict(r.large - r.small <= 64),
        ]),
      );
    }
    return out;
  } finally {
    t.close();
    s3.destroy();
    server.child.kill("SIGTERM");
  }
}
