import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { createWriteStream, rmSync } from "node:fs";
import { access, constants, mkdir, mkdtemp, readFile, rm, stat } from "node:fs/promises";
import { request as httpsRequest } from "node:https";
import { createServer, type Server } from "node:net";
import { homedir, tmpdir } from "node:os";
import { basename, delimiter, dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

/**
 * The one MinIO harness for integration suites and the benchmark: a real `minio server` on random
 * loopback ports with a throwaway data dir. The binary comes from scripts/ensure-minio.sh's lookup
 * order (MinIO's community edition is source-only, so a fresh machine builds the pinned commit).
 */

export interface MinioServer {
  /** http://127.0.0.1:PORT, or https://127.0.0.1:PORT when started with `certsDir`. */
  endpoint: string;
  port: number;
  accessKey: string;
  secretKey: string;
  dataDir: string;
  /** MinIO's stdout and stderr, next to the data dir. */
  logFile: string;
  /** SIGTERM, then wait for the process to exit. */
  stop(): Promise<void>;
  /** SIGKILL, then wait for the process to exit. */
  kill(): Promise<void>;
  /** (Re)start on the same port and data dir, and wait until it serves S3. */
  start(): Promise<void>;
  /** Kill the server and remove the temp dir the harness made (never a caller's dataDir). */
  destroy(): Promise<void>;
  /** The process id while running. */
  readonly pid: number | undefined;
}

const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const ENSURE_SCRIPT = join(REPO_ROOT, "scripts/ensure-minio.sh");
const READY_TIMEOUT_MS = 60_000;
const STOP_TIMEOUT_MS = 15_000;
const TAIL_CHARS = 4_000;
// A fixed test-only key (32 random bytes) so SSE-S3 works; it protects nothing real.
const KMS_SECRET_KEY = "lumenslate-test:HswgU/LD9tvwF66GPvENXZnrSAV3ziROWPWZyjk7xXQ=";

async function isExecutableFile(path: string): Promise<boolean> {
  try {
    await access(path, constants.X_OK);
    return (await stat(path)).isFile();
  } catch {
    return false;
  }
}

/** Runs a command and returns its stdout; stderr passes through so a long build shows progress. */
function run(command: string, args: string[]): Promise<{ code: number | null; stdout: string }> {
  return new Promise((done, fail) => {
    const child = spawn(command, args, { stdio: ["ignore", "pipe", "inherit"] });
    let stdout = "";
    child.stdout.setEncoding("utf8").on("data", (chunk: string) => {
      stdout += chunk;
    });
    child.once("error", fail);
    child.once("close", (code) => done({ code, stdout }));
  });
}

async function goBinDir(): Promise<string> {
  try {
    const { code, stdout } = await run("go", ["env", "GOBIN", "GOPATH"]);
    const [gobin = "", gopath = ""] = stdout.split("\n").map((line) => line.trim());
    if (code === 0 && gobin) return gobin;
    if (code === 0 && gopath) return join(gopath.split(delimiter)[0] ?? gopath, "bin");
  } catch {
    // No Go: fall back to its default GOPATH.
  }
  return join(homedir(), "go", "bin");
}

let found: Promise<string> | undefined;

/** MINIO_BINARY, then `minio` on PATH, then Go's bin dir, else builds the pin via scripts/ensure-minio.sh. */
export function findMinioBinary(): Promise<string> {
  found ??= locateMinio().catch((err: unknown) => {
    found = undefined; // let a later call retry
    throw err;
  });
  return found;
}

async function locateMinio(): Promise<string> {
  const fromEnv = process.env.MINIO_BINARY;
  if (fromEnv) {
    if (await isExecutableFile(fromEnv)) return fromEnv;
    throw new Error(`MINIO_BINARY=${fromEnv} is not an executable file`);
  }
  for (const dir of (process.env.PATH ?? "").split(delimiter)) {
    if (dir && (await isExecutableFile(join(dir, "minio")))) return join(dir, "minio");
  }
  const goBinary = join(await goBinDir(), "minio");
  if (await isExecutableFile(goBinary)) return goBinary;

  const { code, stdout } = await run("bash", [ENSURE_SCRIPT]);
  const path = stdout.trim().split("\n").pop() ?? "";
  if (code !== 0 || !(await isExecutableFile(path))) {
    throw new Error(`No MinIO binary: ${ENSURE_SCRIPT} exited ${code} (see its message above)`);
  }
  return path;
}

/** Distinct free loopback ports, held open together so the kernel cannot hand out one twice. */
async function freePorts(count: number): Promise<number[]> {
  const servers: Server[] = [];
  try {
    for (let i = 0; i < count; i++) {
      const server = createServer();
      servers.push(server);
      await new Promise<void>((done, fail) => {
        server.once("error", fail);
        server.listen(0, "127.0.0.1", done);
      });
    }
    return servers.map((s) => {
      const address = s.address();
      if (address === null || typeof address === "string") throw new Error("no TCP address");
      return address.port;
    });
  } finally {
    await Promise.all(servers.map((s) => new Promise((done) => s.close(done))));
  }
}

// Children still running when this process goes away are killed and the temp dirs the harness
// made are removed, so a crashed suite leaves no MinIO and no data behind.
const live = new Set<ChildProcess>();
const tempRoots = new Set<string>();
let cleanupInstalled = false;

function installCleanup(): void {
  if (cleanupInstalled) return;
  cleanupInstalled = true;
  const killAll = () => {
    for (const child of live) child.kill("SIGKILL");
    live.clear();
    for (const root of tempRoots) {
      try {
        rmSync(root, { recursive: true, force: true, maxRetries: 3 });
      } catch {
        // Best effort: the process is going away.
      }
    }
    tempRoots.clear();
  };
  process.once("exit", killAll);
  for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
    const onSignal = () => {
      // Someone else handles this signal (scripts/stack.ts stops its children gracefully): leave
      // it to them; the "exit" handler still kills whatever is left when the process goes away.
      if (process.listenerCount(signal) > 0) return;
      killAll();
      // Keep the default "die on this signal".
      process.kill(process.pid, signal);
    };
    process.once(signal, onSignal);
  }
}

const sleep = (ms: number) => new Promise((done) => setTimeout(done, ms));

/** The HTTP status of a GET (fetch cannot take a private CA, so https goes through node:https). */
async function probe(url: string, ca: Buffer | undefined): Promise<number> {
  if (!url.startsWith("https:")) {
    const response = await fetch(url, { signal: AbortSignal.timeout(2_000) });
    await response.body?.cancel();
    return response.status;
  }
  return new Promise((done, fail) => {
    const req = httpsRequest(url, { ca, timeout: 2_000 }, (res) => {
      res.resume();
      done(res.statusCode ?? 0);
    });
    req.once("timeout", () => req.destroy(new Error("timed out")));
    req.once("error", fail);
    req.end();
  });
}

function minioEnv(
  accessKey: string,
  secretKey: string,
  extra: Record<string, string> = {},
): NodeJS.ProcessEnv {
  // Drop any MINIO_* the caller has (MINIO_API_REQUESTS_MAX, the app's MINIO_ENDPOINT, ...):
  // the test server's settings are exactly these.
  const env: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(process.env)) {
    if (!name.startsWith("MINIO_")) env[name] = value;
  }
  return {
    ...env,
    MINIO_ROOT_USER: accessKey,
    MINIO_ROOT_PASSWORD: secretKey,
    MINIO_CI_CD: "1",
    MINIO_BROWSER: "off",
    MINIO_UPDATE: "off",
    MINIO_KMS_SECRET_KEY: KMS_SECRET_KEY,
    // /minio/v2/metrics/cluster without a bearer token, as in the Compose files (the dashboard test scrapes it).
    MINIO_PROMETHEUS_AUTH_TYPE: "public",
    ...extra,
  };
}

/** How to run one `minio server` process. */
interface NodeSpec {
  binary: string;
  /** The drives: one data dir (single node), or the whole cluster's endpoint list (distributed). */
  drives: string[];
  /** Where the node's own files live; the log and the (empty) certs dir go beside it. */
  dataDir: string;
  ownedRoot: string | undefined;
  port: number;
  consolePort: number;
  accessKey: string;
  secretKey: string;
  extraEnv?: Record<string, string> | undefined;
  tls?: { certsDir: string; ca: Buffer } | undefined;
  /** Run in a process group of its own, so a Ctrl-C at the terminal reaches only its parent. */
  detached?: boolean | undefined;
}

class MinioProcess implements MinioServer {
  readonly endpoint: string;
  readonly port: number;
  readonly accessKey: string;
  readonly secretKey: string;
  readonly dataDir: string;
  readonly logFile: string;
  readonly #binary: string;
  readonly #drives: string[];
  readonly #consolePort: number;
  readonly #certsDir: string;
  readonly #ownedRoot: string | undefined;
  readonly #extraEnv: Record<string, string>;
  readonly #ca: Buffer | undefined;
  readonly #detached: boolean;
  #child: ChildProcess | undefined;
  #exited: Promise<void> = Promise.resolve();
  #tail = "";

  constructor(spec: NodeSpec) {
    this.#binary = spec.binary;
    this.#drives = spec.drives;
    this.#extraEnv = spec.extraEnv ?? {};
    this.#detached = spec.detached ?? false;
    this.dataDir = spec.dataDir;
    this.#ownedRoot = spec.ownedRoot;
    this.port = spec.port;
    this.#consolePort = spec.consolePort;
    this.endpoint = `${spec.tls ? "https" : "http"}://127.0.0.1:${this.port}`;
    this.accessKey = spec.accessKey;
    this.secretKey = spec.secretKey;
    const parent = dirname(spec.dataDir);
    this.logFile = join(parent, `${basename(spec.dataDir)}-minio.log`);
    // Without TLS the certs dir is an empty path beside the data, so MinIO serves plain HTTP.
    this.#certsDir = spec.tls?.certsDir ?? join(parent, `${basename(spec.dataDir)}-certs`);
    this.#ca = spec.tls?.ca;
  }

  /** The process id while running (for callers that check nothing is left behind). */
  get pid(): number | undefined {
    return this.#child?.pid;
  }

  /** The last few KB MinIO printed, for error messages. */
  get outputTail(): string {
    return this.#tail;
  }

  async start(): Promise<void> {
    if (this.#child) return;
    installCleanup();
    const log = createWriteStream(this.logFile, { flags: "a" });
    log.write(`--- minio server starting ${new Date().toISOString()} on ${this.endpoint}\n`);
    this.#tail = "";
    const child = spawn(
      this.#binary,
      [
        "server",
        ...this.#drives,
        "--address",
        `127.0.0.1:${this.port}`,
        "--console-address",
        `127.0.0.1:${this.#consolePort}`,
        "--certs-dir",
        this.#certsDir,
      ],
      {
        env: minioEnv(this.accessKey, this.secretKey, this.#extraEnv),
        stdio: ["ignore", "pipe", "pipe"],
        detached: this.#detached,
      },
    );
    const capture = (chunk: Buffer) => {
      log.write(chunk);
      this.#tail = (this.#tail + chunk.toString("utf8")).slice(-TAIL_CHARS);
    };
    child.stdout?.on("data", capture);
    child.stderr?.on("data", capture);
    child.once("close", () => log.end());
    this.#child = child;
    live.add(child);
    let exitNote: string | undefined;
    this.#exited = new Promise((done) => {
      const finish = (note: string) => {
        exitNote ??= note;
        live.delete(child);
        if (this.#child === child) this.#child = undefined;
        done();
      };
      child.once("exit", (code, signal) =>
        finish(signal ? `killed by ${signal}` : `exited with code ${code}`),
      );
      child.once("error", (err) => finish(`failed to start: ${err.message}`));
    });

    const deadline = Date.now() + READY_TIMEOUT_MS;
    let lastStatus = "no answer yet";
    while (Date.now() < deadline) {
      if (exitNote !== undefined) {
        throw new Error(`MinIO (${this.#binary}) ${exitNote} before it was ready. ${this.#describeOutput()}`);
      }
      // /minio/health/live answers before the S3 API works; /cluster waits for write quorum.
      try {
        const status = await probe(`${this.endpoint}/minio/health/cluster`, this.#ca);
        if (status === 200) return;
        lastStatus = `HTTP ${status}`;
      } catch (err) {
        lastStatus = err instanceof Error ? err.message : String(err);
      }
      await sleep(200);
    }
    await this.kill();
    throw new Error(
      `MinIO at ${this.endpoint} was not ready within ${READY_TIMEOUT_MS / 1000} s ` +
        `(GET /minio/health/cluster: ${lastStatus}). ${this.#describeOutput()}`,
    );
  }

  async stop(): Promise<void> {
    const child = this.#child;
    if (!child) return;
    child.kill("SIGTERM");
    let timer: NodeJS.Timeout | undefined;
    const timedOut = await Promise.race([
      this.#exited.then(() => false),
      new Promise<boolean>((done) => {
        timer = setTimeout(() => done(true), STOP_TIMEOUT_MS);
      }),
    ]);
    clearTimeout(timer); // a pending timer would keep the process alive
    if (timedOut) await this.kill();
  }

  async kill(): Promise<void> {
    const child = this.#child;
    if (!child) return;
    child.kill("SIGKILL");
    await this.#exited;
  }

  async destroy(): Promise<void> {
    await this.kill();
    if (this.#ownedRoot) {
      await rm(this.#ownedRoot, { recursive: true, force: true });
      tempRoots.delete(this.#ownedRoot);
    }
  }

  #describeOutput(): string {
    const lines = this.#tail.trimEnd().split("\n").slice(-20).join("\n");
    return `Last output (full log: ${this.logFile}):\n${lines || "(none)"}`;
  }
}

/** Settings both starters take. */
export interface MinioStartOptions {
  env?: Record<string, string>;
  /** Root credentials (default: `lumenslate-test` and a random secret). */
  accessKey?: string;
  secretKey?: string;
  /** Run each server in a process group of its own (see scripts/stack.ts). */
  detached?: boolean;
}

/**
 * Starts a MinIO server on random free loopback ports (S3 API and console) and waits until it
 * serves S3. Without `dataDir` it uses a fresh temp dir, which `destroy()` removes. `env` adds
 * MINIO_* settings on top of the harness's own (e.g. an audit webhook target). `port` and
 * `consolePort` pin the ports (0 or unset: free ones).
 *
 * `certsDir` serves TLS: MinIO reads `public.crt` + `private.key` from it (its `--certs-dir`), the
 * endpoint becomes https and the readiness probe trusts `ca` (PEM; default: `<certsDir>/CAs/ca.crt`,
 * else `public.crt` itself for a self-signed certificate). The caller keeps and removes certsDir.
 */
export async function startMinio(
  options: MinioStartOptions & {
    dataDir?: string;
    certsDir?: string;
    ca?: Buffer | string;
    port?: number;
    consolePort?: number;
  } = {},
): Promise<MinioServer> {
  const binary = await findMinioBinary();
  const tls = options.certsDir ? await tlsSettings(options.certsDir, options.ca) : undefined;
  const ownedRoot = options.dataDir ? undefined : await mkdtemp(join(tmpdir(), "lumenslate-minio-"));
  if (ownedRoot) tempRoots.add(ownedRoot);
  const dataDir = options.dataDir ? resolve(options.dataDir) : join(ownedRoot ?? "", "data");
  await mkdir(dataDir, { recursive: true });
  const credentials = rootCredentials(options);
  const pinned = Boolean(options.port && options.consolePort);
  for (let attempt = 1; ; attempt++) {
    const [free1 = 0, free2 = 0] = pinned ? [] : await freePorts(2);
    const server = new MinioProcess({
      binary,
      drives: [dataDir],
      dataDir,
      ownedRoot,
      port: options.port || free1,
      consolePort: options.consolePort || free2,
      ...credentials,
      extraEnv: options.env,
      tls,
      detached: options.detached,
    });
    try {
      await server.start();
      return server;
    } catch (err) {
      if (!(await retryOnClash([server], attempt, pinned))) {
        // Keep the temp dir (it is small) so the log named in the error can still be read.
        if (ownedRoot) tempRoots.delete(ownedRoot);
        throw err;
      }
    }
  }
}

/** A MinIO cluster of several server processes on this machine: one erasure-coded pool. */
export interface DistributedMinio {
  /** Node 1's endpoint (any node serves the whole cluster). */
  endpoint: string;
  accessKey: string;
  secretKey: string;
  /** Each node, to kill and restart one at a time. */
  nodes: MinioServer[];
  /** The cluster's endpoint list, as every node was started with it. */
  drives: string[];
  /** SIGTERM every node and wait. */
  stop(): Promise<void>;
  /** Kill every node and remove the temp dir the harness made. */
  destroy(): Promise<void>;
}

/**
 * Starts a distributed MinIO: `nodes` processes (default 4) with `drivesPerNode` drives each
 * (default 2), one shared endpoint list, distinct loopback ports and data dirs, and waits until
 * every node reports write quorum. MinIO takes a machine that looks like a container (as CI ones
 * do) for an orchestrated one and then waits forever for loopback endpoints to "resolve to a
 * real IP": `_MINIO_SERVER_LOCAL=127.0.0.1:<its port>` tells each node which endpoints are its own.
 * `ports` and `consolePorts` pin the ports (default: free ones); `dataDir` keeps the data there.
 */
export async function startDistributedMinio(
  options: MinioStartOptions & {
    nodes?: number;
    drivesPerNode?: number;
    dataDir?: string;
    ports?: number[];
    consolePorts?: number[];
  } = {},
): Promise<DistributedMinio> {
  const count = options.nodes ?? 4;
  const perNode = options.drivesPerNode ?? 2;
  // Erasure coding needs at least 2 nodes; MinIO refuses fewer than 4 drives in a distributed setup.
  if (count < 2 || count * perNode < 4) throw new Error("a distributed MinIO needs 2+ nodes and 4+ drives");
  const binary = await findMinioBinary();
  const ownedRoot = options.dataDir ? undefined : await mkdtemp(join(tmpdir(), "lumenslate-minio-"));
  if (ownedRoot) tempRoots.add(ownedRoot);
  const root = options.dataDir ? resolve(options.dataDir) : (ownedRoot ?? "");
  const credentials = rootCredentials(options);
  const pinned = Boolean(options.ports?.length && options.consolePorts?.length);
  for (let attempt = 1; ; attempt++) {
    const free = pinned ? [] : await freePorts(2 * count);
    const ports = pinned ? (options.ports ?? []) : free.slice(0, count);
    const consolePorts = pinned ? (options.consolePorts ?? []) : free.slice(count);
    if (ports.length !== count || consolePorts.length !== count) {
      throw new Error(`a ${count}-node MinIO needs ${count} ports and ${count} console ports`);
    }
    // One explicit list (no `{1...n}` ellipses): each node's drives sit in a directory of its own,
    // which a port range and a path range cannot express together on one host.
    const nodeDirs = ports.map((_, i) => join(root, `node${i + 1}`));
    const drives = ports.flatMap((port, i) =>
      Array.from({ length: perNode }, (_, d) => `http://127.0.0.1:${port}${nodeDirs[i]}/d${d + 1}`),
    );
    for (const dir of nodeDirs) await mkdir(dir, { recursive: true });
    const nodes = ports.map(
      (port, i) =>
        new MinioProcess({
          binary,
          drives,
          dataDir: nodeDirs[i] ?? root,
          ownedRoot: undefined, // the cluster removes it once, not each node
          port,
          consolePort: consolePorts[i] ?? 0,
          ...credentials,
          extraEnv: { ...options.env, _MINIO_SERVER_LOCAL: `127.0.0.1:${port}` },
          detached: options.detached,
        }),
    );
    // Together: no node reports write quorum before enough of the others are up.
    const started = await Promise.allSettled(nodes.map((node) => node.start()));
    const failed = started.find((r) => r.status === "rejected");
    if (!failed) {
      const [first] = nodes;
      if (!first) throw new Error("no nodes");
      return {
        endpoint: first.endpoint,
        accessKey: credentials.accessKey,
        secretKey: credentials.secretKey,
        nodes,
        drives,
        stop: async () => {
          await Promise.all(nodes.map((n) => n.stop()));
        },
        destroy: async () => {
          await Promise.all(nodes.map((n) => n.kill()));
          if (ownedRoot) {
            await rm(ownedRoot, { recursive: true, force: true });
            tempRoots.delete(ownedRoot);
          }
        },
      };
    }
    if (!(await retryOnClash(nodes, attempt, pinned))) {
      if (ownedRoot) tempRoots.delete(ownedRoot);
      throw failed.reason;
    }
  }
}

function rootCredentials(options: MinioStartOptions): { accessKey: string; secretKey: string } {
  return {
    accessKey: options.accessKey ?? "lumenslate-test",
    secretKey: options.secretKey ?? randomBytes(24).toString("base64url"),
  };
}

/**
 * After a failed start: kills what runs, and says whether to try again on fresh ports (another
 * process may grab a port between our probe and MinIO's bind; pinned ports are not retried).
 */
async function retryOnClash(servers: MinioProcess[], attempt: number, pinned: boolean): Promise<boolean> {
  await Promise.all(servers.map((s) => s.kill()));
  const clash = servers.some((s) => /address already in use/i.test(s.outputTail));
  return clash && !pinned && attempt < 3;
}

async function tlsSettings(
  certsDir: string,
  ca: Buffer | string | undefined,
): Promise<{ certsDir: string; ca: Buffer }> {
  const dir = resolve(certsDir);
  if (ca !== undefined) return { certsDir: dir, ca: Buffer.from(ca) };
  const bundled = await readFile(join(dir, "CAs", "ca.crt")).catch(() => undefined);
  return { certsDir: dir, ca: bundled ?? (await readFile(join(dir, "public.crt"))) };
}
