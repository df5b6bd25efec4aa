import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { access, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Config, loadConfig } from "../src/config/config.ts";
import { testEnv } from "./support/config.ts";
import { uploadableBytes, writeRandomFile } from "./support/data.ts";

/**
 * The real CLI as a child process against the shared MinIO: what a person or a script sees
 * (stdout, stderr, exit status). The metadata index is a PGlite directory on disk, because every
 * command is a fresh process and an in-memory database would not outlive it.
 */

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const NODE = join(ROOT, "node_modules/.bin/node");
const BIN = join(ROOT, "bin/lumenslate-storage.js");
const MiB = 1024 * 1024;
const BIG_SIZE = 200 * MiB;

interface Run {
  code: number | null;
  stdout: string;
  raw: Buffer;
  stderr: string;
}

let tmp: string;
let env: Record<string, string>;
let config: Config;
let temp: string;

function cli(...args: string[]): Promise<Run> {
  return new Promise((done, fail) => {
    const child = spawn(NODE, [BIN, ...args], { cwd: tmp, env, stdio: ["ignore", "pipe", "pipe"] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on("data", (chunk: Buffer) => out.push(chunk));
    child.stderr.on("data", (chunk: Buffer) => err.push(chunk));
    child.once("error", fail);
    child.once("close", (code) => {
      const raw = Buffer.concat(out);
      done({ code, raw, stdout: raw.toString("utf8"), stderr: Buffer.concat(err).toString("utf8") });
    });
  });
}

/** Runs the CLI, expects success, and parses its --json output. */
async function json<T = Record<string, unknown>>(...args: string[]): Promise<T> {
  const run = await cli(...args, "--json");
  expect(run.stderr).toBe("");
  expect(run.code).toBe(0);
  return JSON.parse(run.stdout) as T;
}

async function sha256File(path: string): Promise<string> {
  const hash = createHash("sha256");
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest("hex");
}

const exists = (path: string) =>
  access(path).then(
    () => true,
    () => false,
  );

beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), "lumenslate-cli-"));
  env = { ...testEnv({ PGLITE_DATA_DIR: join(tmp, "pglite") }), PATH: process.env.PATH ?? "", HOME: tmp };
  config = loadConfig(env);
  temp = config.buckets.temp;
});

afterAll(async () => {
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

describe("lumenslate-storage CLI", () => {
  it("bootstraps the buckets, and a second run reports no changes", async () => {
    const changes = await json<{ bucket: string; action: string }[]>("bootstrap");
    for (const bucket of Object.values(config.buckets)) {
      expect(changes).toContainEqual(expect.objectContaining({ bucket, action: "created" }));
    }
    const again = await cli("bootstrap");
    expect(again).toMatchObject({ code: 0, stdout: "no changes\n", stderr: "" });
  });

  it("round-trips a 200 MiB file with put and get", async () => {
    const source = join(tmp, "big.bin");
    const expected = await writeRandomFile(source, BIG_SIZE);

    const put = await json(
      "put",
      temp,
      "big.bin",
      source,
      "--meta",
      "purpose=cli-test",
      "--sha256",
      expected,
    );
    expect(put).toMatchObject({
      bucket: temp,
      key: "big.bin",
      size: BIG_SIZE,
      sha256: expected,
      owner: "cli",
    });
    expect(put).toMatchObject({ metadata: { purpose: "cli-test" }, contentType: expect.any(String) });
    expect(put.etag).toEqual(expect.any(String));
    expect(put.versionId).toEqual(expect.any(String));

    const target = join(tmp, "big.out");
    const get = await json("get", temp, "big.bin", target);
    expect(get).toMatchObject({ sha256: expected, written: BIG_SIZE, file: target, range: null });
    expect(await sha256File(target)).toBe(expected);
    await rm(target);

    // A range to stdout: exactly those bytes, nothing else on stdout.
    const head = await cli("get", temp, "big.bin", "-", "--range", "1000-1099");
    expect(head.code).toBe(0);
    const original = await readFile(source);
    expect(head.raw.equals(original.subarray(1000, 1100))).toBe(true);
    await rm(source);
  }, 300_000);

  it("refuses an upload whose sha256 differs from --sha256, and stores nothing", async () => {
    const file = join(tmp, "small.bin");
    await writeFile(file, uploadableBytes(1000));
    const run = await cli("put", temp, "wrong.bin", file, "--sha256", "0".repeat(64));
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/^error: PRECONDITION_FAILED: [^\n]+\n$/);
    expect((await cli("stat", temp, "wrong.bin")).code).toBe(4);
  });

  it("lists, stats, presigns, copies and removes", async () => {
    const note = join(tmp, "note.json");
    const content = JSON.stringify({ hello: "world" });
    await writeFile(note, content);
    const noteSha = createHash("sha256").update(content).digest("hex");
    await json("put", temp, "docs/note.json", note, "--content-type", "application/json");

    const top = await json<{ objects: { key: string }[]; prefixes: string[]; nextCursor: null }>("ls", temp);
    expect(top.prefixes).toEqual(["docs/"]);
    expect(top.objects.map((o) => o.key)).toEqual(["big.bin"]);
    expect(top.nextCursor).toBeNull();
    const all = await json<{ objects: { key: string; sha256: string; lastModified: string }[] }>(
      "ls",
      temp,
      "--recursive",
      "--limit",
      "1",
      "--all",
    );
    expect(all.objects.map((o) => o.key)).toEqual(["big.bin", "docs/note.json"]);
    expect(all.objects[1]?.sha256).toBe(noteSha);
    expect(new Date(all.objects[1]?.lastModified ?? "").toISOString()).toBe(all.objects[1]?.lastModified);
    const text = await cli("ls", temp, "docs/");
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(/^\S+\s+\d+ B\s+[0-9a-f]{12}\s+docs\/note\.json\n$/);

    const stat = await json("stat", temp, "docs/note.json");
    expect(stat).toMatchObject({ key: "docs/note.json", size: content.length, sha256: noteSha });
    expect(stat.contentType).toMatch(/^application\/json/);

    const presigned = await json<{ url: string; method: string; expiresAt: string }>(
      "presign",
      temp,
      "docs/note.json",
      "--expires",
      "60",
    );
    expect(presigned.method).toBe("GET");
    expect(Date.parse(presigned.expiresAt)).toBeGreaterThan(Date.now());
    const bare = await cli("presign", temp, "docs/note.json");
    expect(bare.stdout).toMatch(/^http\S+\n$/);
    const response = await fetch(bare.stdout.trim());
    expect(response.status).toBe(200);
    expect(await response.text()).toBe(content);

    const copy = await json("cp", temp, "docs/note.json", temp, "docs/copy.json");
    expect(copy).toMatchObject({ key: "docs/copy.json", sha256: noteSha, size: content.length });
    expect(await json("stat", temp, "docs/copy.json")).toMatchObject({ sha256: noteSha });

    const removed = await json("rm", temp, "docs/copy.json");
    expect(removed).toMatchObject({ bucket: temp, key: "docs/copy.json" });
    const gone = await cli("stat", temp, "docs/copy.json");
    expect(gone.code).toBe(4);
    expect(gone.stderr).toMatch(/^error: NOT_FOUND: [^\n]+\n$/);
  });

  it("reconciles every bucket with zero orphans", async () => {
    const reports =
      await json<{ bucket: string; orphans: number; objects: number; rows: number }[]>("reconcile");
    expect(reports.map((r) => r.bucket).sort()).toEqual([...new Set(Object.values(config.buckets))].sort());
    for (const report of reports) expect(report.orphans, report.bucket).toBe(0);
    expect(reports.find((r) => r.bucket === temp)).toMatchObject({ objects: 2, rows: 2 });
    const text = await cli("reconcile", temp);
    expect(text.code).toBe(0);
    expect(text.stdout).toContain("orphans: 0\n");
  });

  it("reports a bad key in one line with exit 2 and no stack", async () => {
    const file = join(tmp, "x.bin");
    await writeFile(file, "x");
    const run = await cli("put", temp, "../x", file);
    expect(run.code).toBe(2);
    expect(run.stdout).toBe("");
    expect(run.stderr).toMatch(/^error: INVALID_ARGUMENT: [^\n]+\n$/);
    expect(run.stderr).not.toContain("    at ");
  });

  it("exits 4 for a missing object and leaves no file behind", async () => {
    const target = join(tmp, "missing.out");
    const run = await cli("get", temp, "missing.bin", target);
    expect(run.code).toBe(4);
    expect(run.stderr).toMatch(/^error: NOT_FOUND: [^\n]+\n$/);
    expect(await exists(target)).toBe(false);
  });
});
