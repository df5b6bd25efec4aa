import { type ChildProcess, spawn } from "node:child_process";
import { mkdtemp, readFile, realpath, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { EXIT_CODES } from "../src/cli/main.ts";
import { runCli } from "./support/cli.ts";
import { sha256Of, uploadableBytes } from "./support/data.ts";
import { bearer } from "./support/http.ts";

/**
 * The embedded default with `serve` running (a real process holding the PGlite directory): the CLI
 * finds the service in the directory's lock file and goes through it, so what it does is what the
 * server sees, at once, audited, and kept across a restart. The CLI runs in this process with the
 * same environment; nothing from the test's own (DATABASE_URL, MinIO) leaks in.
 */

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const NODE = join(ROOT, "node_modules/.bin/node");
const BIN = join(ROOT, "bin/lumenslate-storage.js");

let dir: string;
let env: Record<string, string>;
const children: ChildProcess[] = [];

interface Serve {
  child: ChildProcess;
  http: string;
  exited: Promise<number | null>;
}

/** Starts `serve`; resolves with its HTTP address once it listens on both protocols. */
function serve(): Promise<Serve> {
  const child = spawn(NODE, [BIN, "serve"], { cwd: dir, env, stdio: ["ignore", "ignore", "pipe"] });
  children.push(child);
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
        if (entry.msg === "grpc listening" && http) done({ child, http, exited });
      }
    });
    void exited.then((code) => fail(new Error(`serve exited with ${code} before listening:\n${err}`)));
  });
}

async function stop(server: Serve): Promise<void> {
  server.child.kill("SIGTERM");
  expect(await server.exited).toBe(0);
}

const json = <T>(run: { code: number; stdout: string; stderr: string }): T => {
  expect({ code: run.code, stderr: run.stderr }).toEqual({ code: 0, stderr: "" });
  return JSON.parse(run.stdout) as T;
};

beforeAll(async () => {
  dir = await realpath(await mkdtemp(join(tmpdir(), "lumenslate-local-serve-")));
  env = {
    PATH: process.env.PATH ?? "",
    HOME: dir,
    NODE_ENV: "test",
    LOG_LEVEL: "info",
    HTTP_HOST: "127.0.0.1",
    HTTP_PORT: "0",
    GRPC_PORT: "0",
    AUDIT_EXPORT_INTERVAL: "off",
    // The defaults, made absolute so this process (whose cwd is elsewhere) finds the same files.
    PGLITE_DATA_DIR: join(dir, "data/pglite"),
    STORAGE_LOCAL_ROOT: join(dir, "data/objects"),
    AUTH_BOOTSTRAP_KEY_FILE: join(dir, "data/admin-key"),
  };
});
afterAll(async () => {
  for (const child of children)
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  await rm(dir, { recursive: true, force: true });
});

describe("the CLI beside a serve on the embedded database", () => {
  it("goes through the running service: keys, objects and audit are the server's at once, and survive a restart", async () => {
    let server = await serve();
    const lock = JSON.parse(await readFile(join(dir, "data/pglite/lumenslate.lock"), "utf8")) as {
      http: string;
    };
    const help = await runCli(env, "--help");
    expect(help.stdout).toContain(
      `target: ${lock.http} (from the running lumenslate-storage serve (pid ${server.child.pid})`,
    );

    // A key made through the CLI (authenticated with the first-start admin key file) works at once.
    const made = json<{ id: string; token: string }>(
      await runCli(
        env,
        "keys",
        "create",
        "--service",
        "beside",
        "--scope",
        "temp:read,write,list,delete",
        "--json",
      ),
    );
    const listing = () =>
      fetch(`${server.http}/v1/buckets/temp/objects?recursive=true`, { headers: bearer(made.token) });
    expect((await listing()).status).toBe(200);

    // put, cp and rm are visible to the server at once and audited.
    const file = join(dir, "a.bin");
    const data = uploadableBytes(10_000);
    await writeFile(file, data);
    expect(
      json<{ sha256: string }>(await runCli(env, "put", "temp", "beside/a.bin", file, "--json")).sha256,
    ).toBe(sha256Of(data));
    expect((await runCli(env, "cp", "temp", "beside/a.bin", "temp", "beside/b.bin")).code).toBe(0);
    expect((await runCli(env, "rm", "temp", "beside/b.bin")).code).toBe(0);
    const seen = (await (await listing()).json()) as { objects: { key: string; sha256: string }[] };
    expect(seen.objects).toEqual([expect.objectContaining({ key: "beside/a.bin", sha256: sha256Of(data) })]);
    const audit = json<{ action: string; key: string | null; result: string; protocol: string }[]>(
      await runCli(env, "audit", "query", "--bucket", "temp", "--json"),
    );
    for (const [action, key] of [
      ["upload", "beside/a.bin"],
      ["copy", "beside/b.bin"],
      ["delete", "beside/b.bin"],
    ]) {
      expect(audit).toContainEqual(expect.objectContaining({ action, key, result: "OK", protocol: "http" }));
    }

    // Revoked through the CLI: the server refuses the key at once (it revoked it itself).
    json(await runCli(env, "keys", "revoke", made.id, "--json"));
    expect((await listing()).status).toBe(401);

    // A restart loses nothing the CLI did.
    await stop(server);
    server = await serve();
    const after = json<{ objects: { key: string; sha256: string }[] }>(
      await runCli(env, "ls", "temp", "beside/", "--json"),
    );
    expect(after.objects).toEqual([expect.objectContaining({ key: "beside/a.bin", sha256: sha256Of(data) })]);
    const out = join(dir, "a.out");
    expect((await runCli(env, "get", "temp", "beside/a.bin", out)).code).toBe(0);
    expect(sha256Of(await readFile(out))).toBe(sha256Of(data));
    expect((await runCli(env, "stat", "temp", "beside/missing.bin")).code).toBe(EXIT_CODES.NOT_FOUND);
    await stop(server);
  });
});
