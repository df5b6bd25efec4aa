import { spawn } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { elf, pdf } from "./support/polyglots.ts";

/**
 * The real CLI as a child process with sha256 forced onto the worker thread (STORAGE_HASH_THREAD=on,
 * whatever the core count): a failed `put` must end the process by itself. A hash whose job
 * outlived its transfer kept the worker referenced, and the CLI printed its error and then hung.
 * Local backend and an on-disk PGlite: nothing here needs MinIO.
 */

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const NODE = join(ROOT, "node_modules/.bin/node");
const BIN = join(ROOT, "bin/lumenslate-storage.js");
const MiB = 1024 * 1024;
/** Kills a hung CLI so the suite reports it instead of hanging; the assertions are on how it exited. */
const HANG_GUARD_MS = 90_000;

interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

let tmp: string;
let env: Record<string, string>;

function cli(extraEnv: Record<string, string>, ...args: string[]): Promise<Exit> {
  return new Promise((done, fail) => {
    const child = spawn(NODE, [BIN, ...args], {
      cwd: tmp,
      env: { ...env, ...extraEnv },
      stdio: ["ignore", "pipe", "pipe"],
      timeout: HANG_GUARD_MS,
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => (stdout += chunk));
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk));
    child.once("error", fail);
    child.once("close", (code, signal) => done({ code, signal, stdout, stderr }));
  });
}

beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), "lumenslate-hash-worker-"));
  env = {
    NODE_ENV: "test",
    LOG_LEVEL: "silent",
    STORAGE_BACKEND: "local",
    STORAGE_LOCAL_ROOT: join(tmp, "objects"),
    PGLITE_DATA_DIR: join(tmp, "pglite"),
    AUTH_BOOTSTRAP_ADMIN: "false",
    STORAGE_HASH_THREAD: "on",
    PATH: process.env.PATH ?? "",
    HOME: tmp,
  };
  const bootstrap = await cli({}, "bootstrap");
  expect(bootstrap).toMatchObject({ code: 0, signal: null });
});

afterAll(async () => {
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

describe("CLI with worker hashing", () => {
  it("exits with TOO_LARGE's status after a put over STORAGE_MAX_FILE_SIZE", async () => {
    // uploadFile announces the file's size, so this one is refused before any byte is hashed.
    const file = join(tmp, "big.txt");
    await writeFile(file, randomBytes(3 * MiB).toString("hex"));
    const run = await cli({ STORAGE_MAX_FILE_SIZE: "2MiB" }, "put", "user-data", "big.txt", file);
    expect(run).toMatchObject({ code: 2, signal: null, stdout: "" });
    expect(run.stderr).toMatch(
      /^error: TOO_LARGE: The object is larger than the limit of 2 MiB for bucket '[^']+' \(set by STORAGE_MAX_FILE_SIZE=2MiB\)\./,
    );
  });

  it("exits after a put refused mid-stream, once the worker already held its hash", async () => {
    // 3 MiB of PDF, then an ELF at the end: refused in IngestGuard's flush, after batches went to
    // the worker and before any digest. This is the path that used to leave the process hanging.
    const file = join(tmp, "hidden.pdf");
    await writeFile(file, Buffer.concat([pdf(3 * MiB), elf()]));
    const run = await cli({}, "put", "user-data", "hidden.pdf", file);
    expect(run).toMatchObject({ code: 2, signal: null, stdout: "" });
    expect(run.stderr).toMatch(/^error: UNSUPPORTED_TYPE: This \.pdf file hides an executable \(ELF\)/);
  });

  it("still stores a clean file, hashed on the worker", async () => {
    const file = join(tmp, "clean.pdf");
    const data = pdf(3 * MiB);
    await writeFile(file, data);
    const run = await cli({}, "put", "user-data", "clean.pdf", file, "--json");
    expect(run).toMatchObject({ code: 0, signal: null, stderr: "" });
    const sha256 = createHash("sha256").update(data).digest("hex");
    expect(JSON.parse(run.stdout)).toMatchObject({ key: "clean.pdf", sha256, size: data.length });
  });
});
