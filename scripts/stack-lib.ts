import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { createWriteStream, existsSync, readFileSync } from "node:fs";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { request as httpRequest } from "node:http";
import { request as httpsRequest } from "node:https";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseEnv } from "node:util";
import { loadConfig } from "../src/config/config.ts";
import {
  type DistributedMinio,
  type MinioServer,
  startDistributedMinio,
  startMinio,
} from "../test/support/minio.ts";

/**
 * The production-shaped stack on a bare machine (no container engine): MinIO (one node, or a
 * distributed erasure-coded cluster), PostgreSQL, the one-shot `bootstrap` (with
 * `--provision-users` when MinIO admin credentials are set, so the service runs as its own
 * least-privilege MinIO user), then the service, from the same `.env` the Compose file reads.
 * scripts/stack.ts is its command line; tests start it the same way.
 *
 * Every child runs in a process group of its own, so a Ctrl-C at the terminal reaches only the
 * stack, which then stops them in order (service, MinIO, PostgreSQL) and leaves nothing behind.
 * Everything lives in one temporary directory, removed on stop: this stack is for trying out and
 * testing, with throwaway data; Compose and the Helm chart are for keeping it.
 */

const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const CLI = join(REPO_ROOT, "bin/lumenslate-storage.js");
const READY_TIMEOUT_MS = 90_000;

export interface StackOptions {
  /** The `.env` to read (default `./.env`; a missing default file means "defaults only"). */
  envFile?: string;
  /** A distributed MinIO of `nodes` processes (default 4) instead of one. */
  distributed?: boolean;
  nodes?: number;
  /** Progress lines (default: none). */
  log?: (line: string) => void;
  /** The environment the `.env` values are laid under (default process.env): it wins, as in Compose. */
  baseEnv?: NodeJS.ProcessEnv;
}

export interface StackInfo {
  http: string;
  grpc: string;
  /** One S3 endpoint per MinIO node (the service uses the first). */
  minio: string[];
  minioConsole: string[];
  /** host:port of PostgreSQL (the URL, with its password, is in the service's environment only). */
  postgres: string;
  /** The first admin key's token file, unless AUTH_BOOTSTRAP_ADMIN_TOKEN_FILE adopts the operator's own. */
  adminKeyFile: string | undefined;
  /** Where the data and every log live (removed on stop). */
  dir: string;
  pids: { service: number; minio: number[]; postgres: number };
}

export interface Stack extends StackInfo {
  /** Resolves when the service exits on its own (a crash): with its exit code. */
  serviceExited: Promise<number | null>;
  /** Stops everything (idempotent). */
  stop(): Promise<void>;
}

/** The `.env` file's variables, with Node's own parser (the format Compose and `node --env-file` read). */
export function readEnvFile(file: string | undefined): Record<string, string> {
  const path = resolve(file ?? ".env");
  if (!existsSync(path)) {
    if (file !== undefined) throw new Error(`env file ${path} does not exist`);
    return {};
  }
  return parseEnv(readFileSync(path, "utf8")) as Record<string, string>;
}

export async function startStack(options: StackOptions = {}): Promise<Stack> {
  const log = options.log ?? (() => {});
  const fileEnv = readEnvFile(options.envFile);
  const env: Record<string, string> = { ...fileEnv };
  for (const [name, value] of Object.entries(options.baseEnv ?? process.env)) {
    if (value !== undefined) env[name] = value;
  }
  const nodes = options.distributed ? (options.nodes ?? 4) : 1;

  // Ports: the ones the .env names, or free ones where it says 0.
  const minioPorts = await portRun(portOf(env.MINIO_ENDPOINT, 9000), nodes);
  const consolePorts = await portRun(portOf(env.MINIO_CONSOLE_ENDPOINT, 9001), nodes);
  const [httpPort = 0, grpcPort = 0] = await Promise.all([
    portRun(Number(env.HTTP_PORT ?? 8080), 1),
    portRun(Number(env.GRPC_PORT ?? 50051), 1),
  ]).then((runs) => runs.map((r) => r[0]));

  const adminAccess = env.MINIO_ADMIN_ACCESS_KEY;
  const adminSecret = env.MINIO_ADMIN_SECRET_KEY;
  const provision = Boolean(adminAccess && adminSecret);
  const adopting = Boolean(env.AUTH_BOOTSTRAP_ADMIN_TOKEN_FILE);
  const stackEnv = (dir: string): Record<string, string> => ({
    ...env,
    STORAGE_BACKEND: "minio",
    MINIO_ENDPOINT: `http://127.0.0.1:${minioPorts[0]}`,
    MINIO_SECURE: "false",
    MINIO_CONSOLE_ENDPOINT: `127.0.0.1:${consolePorts[0]}`,
    HTTP_PORT: String(httpPort),
    GRPC_PORT: String(grpcPort),
    // The database is new on every run, and so is its first admin key: its file belongs to the run.
    AUTH_BOOTSTRAP_KEY_FILE: join(dir, "admin-key"),
  });
  // Catch a bad .env before anything starts (DATABASE_URL is the stack's own, filled in below).
  loadConfig({ ...stackEnv(tmpdir()), DATABASE_URL: "postgres://check@127.0.0.1:1/check" });
  const dir = await mkdtemp(join(tmpdir(), "lumenslate-stack-"));
  const serviceEnv = stackEnv(dir);

  const running: Running = {};
  let stopping: Promise<void> | undefined;
  const stop = () => {
    stopping ??= stopAll(running, dir, log);
    return stopping;
  };
  try {
    log(`starting ${nodes === 1 ? "MinIO" : `a ${nodes}-node distributed MinIO`} and PostgreSQL in ${dir}`);
    const minioOptions = {
      dataDir: join(dir, "minio"),
      accessKey: provision ? (adminAccess as string) : (env.MINIO_ACCESS_KEY ?? ""),
      secretKey: provision ? (adminSecret as string) : (env.MINIO_SECRET_KEY ?? ""),
      detached: true,
      env: {
        MINIO_BROWSER: "on",
        // SSE-S3 (MODEL_STORAGE_ENCRYPTION) needs a KMS key; the data lives as long as this run.
        MINIO_KMS_SECRET_KEY:
          env.MINIO_KMS_SECRET_KEY || `lumenslate-stack:${randomBytes(32).toString("base64")}`,
      },
    };
    // Side by side; each is recorded as soon as it runs, so a failure of the other stops it too.
    const [minioStarted, postgresStarted] = await Promise.allSettled([
      (nodes === 1
        ? startMinio({ ...minioOptions, port: minioPorts[0] ?? 0, consolePort: consolePorts[0] ?? 0 })
        : startDistributedMinio({ ...minioOptions, nodes, ports: minioPorts, consolePorts })
      ).then((m) => {
        running.minio = m;
        return m;
      }),
      startPostgres().then((p) => {
        running.postgres = p;
        return p;
      }),
    ]);
    if (minioStarted.status === "rejected") throw minioStarted.reason;
    if (postgresStarted.status === "rejected") throw postgresStarted.reason;
    const minio = minioStarted.value;
    const postgres = postgresStarted.value;
    serviceEnv.DATABASE_URL = postgres.url;
    if (provision) serviceEnv.MC_BINARY = await ensureMc(env);

    log(`bootstrap${provision ? " --provision-users" : ""}`);
    await runCli(["bootstrap", ...(provision ? ["--provision-users"] : []), "--json"], serviceEnv, dir);

    log("starting the service");
    const service = spawnLogged(process.execPath, [CLI, "serve"], serviceEnv, join(dir, "service.log"));
    running.service = service;
    const serviceExited = new Promise<number | null>((done) => service.once("exit", (code) => done(code)));
    const scheme = env.TLS_CERT_FILE ? "https" : "http";
    const http = `${scheme}://127.0.0.1:${httpPort}`;
    await waitReady(`${http}/readyz`, serviceExited, join(dir, "service.log"));

    const minioNodes = "nodes" in minio ? minio.nodes : [minio];
    const info: StackInfo = {
      http,
      grpc: `127.0.0.1:${grpcPort}`,
      minio: minioNodes.map((n) => n.endpoint),
      minioConsole: consolePorts.map((p) => `http://127.0.0.1:${p}`),
      postgres: new URL(postgres.url).host,
      adminKeyFile: adopting ? undefined : serviceEnv.AUTH_BOOTSTRAP_KEY_FILE,
      dir,
      pids: {
        service: service.pid ?? 0,
        minio: minioNodes.map((n) => n.pid ?? 0),
        postgres: postgres.pid,
      },
    };
    return { ...info, serviceExited, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

interface Running {
  minio?: MinioServer | DistributedMinio;
  postgres?: { dir: string; pid: number };
  service?: ChildProcess;
}

async function stopAll(running: Running, dir: string, log: (line: string) => void): Promise<void> {
  const { service } = running;
  if (service && service.exitCode === null && service.signalCode === null) {
    log("stopping the service");
    const exited = new Promise((done) => service.once("exit", done));
    signalGroup(service, "SIGTERM");
    // It drains in-flight requests for SHUTDOWN_GRACE_PERIOD; past a generous bound, kill it.
    const timer = setTimeout(() => signalGroup(service, "SIGKILL"), 60_000);
    await exited;
    clearTimeout(timer);
  }
  if (running.minio) {
    log("stopping MinIO");
    await running.minio.stop();
  }
  if (running.postgres) {
    log("stopping PostgreSQL");
    await stopPostgres(running.postgres.dir);
    // pg_ctl returns once the pid file is gone, a moment before the server process itself is.
    await untilGone(running.postgres.pid);
  }
  await rm(dir, { recursive: true, force: true });
}

/** Whether a process runs (a zombie, exited but not yet reaped by its parent, does not). */
export function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
  try {
    // Linux: the state follows the parenthesised command name in /proc/<pid>/stat.
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) !== "Z";
  } catch {
    return true; // no /proc: signal 0 is all there is to go by
  }
}

async function untilGone(pid: number, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (isRunning(pid) && Date.now() < deadline) await new Promise((done) => setTimeout(done, 50));
}

/** Stops the server startPostgres() started in `dir`, and removes the directory. */
export async function stopPostgres(dir: string): Promise<void> {
  await run("bash", [join(REPO_ROOT, "scripts/start-postgres.sh"), "stop", dir]);
}

function signalGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  try {
    if (child.pid) process.kill(-child.pid, signal);
  } catch {
    // Already gone.
  }
}

/** A child in its own process group, its output appended to a log file. */
function spawnLogged(command: string, args: string[], env: Record<string, string>, logFile: string) {
  const out = createWriteStream(logFile, { flags: "a" });
  const child = spawn(command, args, {
    env,
    stdio: ["ignore", "pipe", "pipe"],
    detached: true,
    cwd: REPO_ROOT,
  });
  child.stdout?.pipe(out, { end: false });
  child.stderr?.pipe(out, { end: false });
  child.once("close", () => out.end());
  return child;
}

/** Runs a command to completion; rejects with its output when it fails. */
function run(
  command: string,
  args: string[],
  env: NodeJS.ProcessEnv = process.env,
): Promise<{ stdout: string; stderr: string }> {
  return new Promise((done, fail) => {
    const child = spawn(command, args, {
      env,
      stdio: ["ignore", "pipe", "pipe"],
      detached: true,
      cwd: REPO_ROOT,
    });
    let stdout = "";
    let stderr = "";
    child.stdout?.setEncoding("utf8").on("data", (c: string) => {
      stdout += c;
    });
    child.stderr?.setEncoding("utf8").on("data", (c: string) => {
      stderr += c;
    });
    child.once("error", fail);
    child.once("close", (code) => {
      if (code === 0) done({ stdout, stderr });
      else
        fail(new Error(`${[command, ...args].join(" ")} exited ${code}:\n${stderr.trim() || stdout.trim()}`));
    });
  });
}

async function runCli(args: string[], env: Record<string, string>, dir: string): Promise<void> {
  const { stdout, stderr } = await run(process.execPath, [CLI, ...args], env);
  const out = createWriteStream(join(dir, "bootstrap.log"), { flags: "a" });
  out.end(`$ lumenslate-storage ${args.join(" ")}\n${stdout}${stderr}`);
}

/** A throwaway PostgreSQL server (scripts/start-postgres.sh): its URL, directory and server pid. */
export async function startPostgres(): Promise<{ url: string; dir: string; pid: number }> {
  const { stdout } = await run("bash", [join(REPO_ROOT, "scripts/start-postgres.sh")]);
  const value = (name: string) => new RegExp(`^export ${name}='([^']*)'$`, "m").exec(stdout)?.[1];
  const url = value("DATABASE_URL");
  const pgDir = value("LUMENSLATE_PG_DIR");
  if (!url || !pgDir) throw new Error(`scripts/start-postgres.sh printed no DATABASE_URL:\n${stdout}`);
  // postmaster.pid's first line: the server's pid (pg_ctl runs it detached from us).
  const pid = Number((await readFile(join(pgDir, "data", "postmaster.pid"), "utf8")).split("\n")[0]);
  return { url, dir: pgDir, pid };
}

async function ensureMc(env: Record<string, string>): Promise<string> {
  const { stdout } = await run("bash", [join(REPO_ROOT, "scripts/ensure-mc.sh")], {
    ...process.env,
    ...(env.MC_BINARY && env.MC_BINARY !== "mc" ? { MC_BINARY: env.MC_BINARY } : {}),
  });
  return stdout.trim().split("\n").pop() ?? "mc";
}

/** The port of `host:port` or a URL; `fallback` when there is none. */
function portOf(endpoint: string | undefined, fallback: number): number {
  if (!endpoint) return fallback;
  const url = new URL(/^[a-z]+:\/\//i.test(endpoint) ? endpoint : `http://${endpoint}`);
  return url.port === "" ? fallback : Number(url.port);
}

/** `count` ports from `first` on, or free ones when `first` is 0. */
async function portRun(first: number, count: number): Promise<number[]> {
  if (first !== 0) return Array.from({ length: count }, (_, i) => first + i);
  const ports: number[] = [];
  const servers = await Promise.all(
    Array.from({ length: count }, async () => {
      const server = createServer();
      await new Promise<void>((done, fail) => {
        server.once("error", fail);
        server.listen(0, "127.0.0.1", done);
      });
      const address = server.address();
      if (address && typeof address !== "string") ports.push(address.port);
      return server;
    }),
  );
  await Promise.all(servers.map((s) => new Promise((done) => s.close(done))));
  return ports;
}

async function waitReady(url: string, exited: Promise<number | null>, logFile: string): Promise<void> {
  let gone: number | null | undefined;
  void exited.then((code) => {
    gone = code;
  });
  const deadline = Date.now() + READY_TIMEOUT_MS;
  let last = "no answer yet";
  while (Date.now() < deadline) {
    if (gone !== undefined)
      throw new Error(`the service exited (${gone}) before it was ready; see ${logFile}`);
    try {
      const status = await probe(url);
      if (status === 200) return;
      last = `HTTP ${status}`;
    } catch (err) {
      last = err instanceof Error ? err.message : String(err);
    }
    await new Promise((done) => setTimeout(done, 250));
  }
  throw new Error(
    `the service was not ready within ${READY_TIMEOUT_MS / 1000} s (${url}: ${last}); see ${logFile}`,
  );
}

/** GET's status; over https without verifying (our own service on loopback, any certificate). */
function probe(url: string): Promise<number> {
  const request = url.startsWith("https:") ? httpsRequest : httpRequest;
  return new Promise((done, fail) => {
    const req = request(url, { timeout: 2_000, rejectUnauthorized: false }, (res) => {
      res.resume();
      done(res.statusCode ?? 0);
    });
    req.once("timeout", () => req.destroy(new Error("timed out")));
    req.once("error", fail);
    req.end();
  });
}

/** The summary scripts/stack.ts prints. */
export function describeStack(info: StackInfo, distributed: boolean): string {
  const lines = [
    `lumenslate-storage stack is ready (${distributed ? `${info.minio.length}-node distributed` : "single-node"} MinIO):`,
    `  HTTP       ${info.http}   (/readyz, /docs, /metrics)`,
    `  gRPC       ${info.grpc}`,
    ...info.minio.map((m, i) => `  MinIO      ${m}   console ${info.minioConsole[i] ?? ""}`),
    `  PostgreSQL ${info.postgres}`,
    info.adminKeyFile
      ? `  admin key  ${info.adminKeyFile}   (KEY=$(cat ${info.adminKeyFile}); curl -H "authorization: Bearer $KEY" ...)`
      : "  admin key  the token in AUTH_BOOTSTRAP_ADMIN_TOKEN_FILE",
    `  logs       ${info.dir}/*.log`,
    "Ctrl-C stops everything and removes the data.",
  ];
  return `${lines.join("\n")}\n`;
}
