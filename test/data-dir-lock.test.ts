import { type ChildProcess, spawn } from "node:child_process";
import { access, mkdtemp, readFile, realpath, rm } from "node:fs/promises";
import { hostname, tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { acquireDataDirLock, LOCK_FILE_NAME, type LockInfo } from "../src/metadata/data-dir-lock.ts";
import { openDatabase } from "../src/metadata/database.ts";

/**
 * The embedded database (PGlite under ./data/pglite, the zero-configuration default) belongs to one
 * process: real `serve` processes and CLI commands on one data directory, with the lock file between
 * them. A second serve refuses to start, a killed holder's lock is taken over, a clean stop removes it.
 */

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const NODE = join(ROOT, "node_modules/.bin/node");
const BIN = join(ROOT, "bin/lumenslate-storage.js");

interface Server {
  child: ChildProcess;
  /** From the "listening" and "grpc listening" log lines. */
  http: string;
  grpc: string;
  exited: Promise<number | null>;
}

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

let cwd: string;
let env: Record<string, string>;
let pgliteDir: string;
let lockFile: string;
const servers: ChildProcess[] = [];

const exists = (path: string) =>
  access(path).then(
    () => true,
    () => false,
  );
const readLock = async () => JSON.parse(await readFile(lockFile, "utf8")) as LockInfo;

/** Starts `serve`; resolves once both servers listen, rejects with what it printed if it exits first. */
function startServer(): Promise<Server> {
  const child = spawn(NODE, [BIN, "serve"], { cwd, env, stdio: ["ignore", "ignore", "pipe"] });
  servers.push(child);
  const exited = new Promise<number | null>((done) => child.once("exit", (code) => done(code)));
  let err = "";
  let http: string | undefined;
  return new Promise((done, fail) => {
    child.stderr?.on("data", (chunk: Buffer) => {
      err += chunk.toString("utf8");
      for (const line of err.split("\n").slice(0, -1)) {
        if (!line.startsWith("{")) continue;
        const entry = JSON.parse(line) as { msg?: string; address?: string };
        if (entry.msg === "listening") http = entry.address;
        if (entry.msg === "grpc listening" && http && entry.address) {
          done({ child, http, grpc: entry.address, exited });
        }
      }
    });
    child.once("error", fail);
    void exited.then((code) => fail(new Error(`serve exited with ${code} before listening:\n${err}`)));
  });
}

function cli(...args: string[]): Promise<Run> {
  return new Promise((done, fail) => {
    const child = spawn(NODE, [BIN, ...args], { cwd, env, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => (stdout += chunk));
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk));
    child.once("error", fail);
    child.once("close", (code) => done({ code, stdout, stderr }));
  });
}

beforeAll(async () => {
  cwd = await realpath(await mkdtemp(join(tmpdir(), "lumenslate-lock-")));
  pgliteDir = join(cwd, "data/pglite");
  lockFile = join(pgliteDir, LOCK_FILE_NAME);
  // The defaults under test (local objects and PGlite under ./data, all interfaces), on free ports;
  // nothing from the test's own environment (DATABASE_URL, MinIO) leaks in.
  env = {
    PATH: process.env.PATH ?? "",
    HOME: cwd,
    NODE_ENV: "test",
    LOG_LEVEL: "info",
    HTTP_PORT: "0",
    GRPC_PORT: "0",
    AUDIT_EXPORT_INTERVAL: "off",
  };
});

afterAll(async () => {
  for (const child of servers)
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  await rm(cwd, { recursive: true, force: true });
});

describe("one process per embedded data directory (real processes)", () => {
  let first: Server;

  it("records the holder and its loopback addresses in the lock file", async () => {
    first = await startServer();
    const lock = await readLock();
    expect(lock).toMatchObject({
      pid: first.child.pid,
      hostname: hostname(),
      command: "lumenslate-storage serve",
    });
    // Bound to 0.0.0.0: recorded as loopback, which a CLI on this host can dial.
    const httpPort = new URL(first.http).port;
    const grpcPort = first.grpc.slice(first.grpc.lastIndexOf(":") + 1);
    expect(lock.http).toBe(`http://127.0.0.1:${httpPort}`);
    expect(lock.grpc).toBe(`127.0.0.1:${grpcPort}`);
    expect((await fetch(`${lock.http}/healthz`)).status).toBe(200);
  });

  it("refuses a second serve on the same directory, naming the holder", async () => {
    const second = await cli("serve");
    expect(second.code).toBe(3);
    expect(second.stderr).toContain(`error: UNAVAILABLE: The embedded database in ${pgliteDir} is in use by`);
    expect(second.stderr).toContain(`pid ${first.child.pid} on this host (lumenslate-storage serve`);
    expect(second.stderr).toContain("stop that process");
    // The holder is untouched and still serving.
    expect((await readLock()).pid).toBe(first.child.pid);
    expect(first.child.exitCode).toBeNull();
    expect((await fetch(`${first.http}/healthz`)).status).toBe(200);
  });

  it("keeps this process's own database code out too", async () => {
    await expect(openDatabase({ url: undefined, pgliteDir })).rejects.toMatchObject({
      code: "UNAVAILABLE",
      details: { holderPid: first.child.pid, holderCommand: "lumenslate-storage serve" },
    });
  });

  it("takes over the lock of a killed holder and starts", async () => {
    first.child.kill("SIGKILL");
    await first.exited;
    // SIGKILL leaves the lock behind, naming a pid that is gone.
    expect((await readLock()).pid).toBe(first.child.pid);

    const next = await startServer();
    expect(await readLock()).toMatchObject({ pid: next.child.pid, command: "lumenslate-storage serve" });
    expect((await fetch(`${next.http}/readyz`)).status).toBe(200);

    // A clean stop (SIGTERM, through the shutdown path) removes the lock.
    next.child.kill("SIGTERM");
    expect(await next.exited).toBe(0);
    expect(await exists(lockFile)).toBe(false);
  });

  it("stops a one-shot CLI command with the holder's name instead of opening the database", async () => {
    // A holder with no service address (like another one-shot command): the CLI has nowhere to send
    // the command and must not open the database beside it.
    const lock = await acquireDataDirLock(pgliteDir, { command: "lumenslate-storage reconcile" });
    try {
      const run = await cli("keys", "list");
      expect(run.code).toBe(3);
      expect(run.stdout).toBe("");
      expect(run.stderr).toContain(`pid ${process.pid} on this host (lumenslate-storage reconcile`);
      expect(run.stderr).toContain("Wait for it to finish or stop it");
    } finally {
      await lock.release();
    }
    // Released: the same command now opens the database, and leaves no lock behind.
    const run = await cli("keys", "list", "--json");
    expect(run).toMatchObject({ code: 0, stderr: "" });
    expect(JSON.parse(run.stdout)).toEqual(expect.any(Array));
    expect(await exists(lockFile)).toBe(false);
  });
});
