import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { createInterface } from "node:readline";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { isRunning as alive, type StackInfo } from "../scripts/stack-lib.ts";
import { sha256Of, uploadableBytes } from "./support/data.ts";

const ROOT = resolve(import.meta.dirname, "..");

/**
 * `npm run stack` itself, as an operator runs it: from an env file (free ports, MinIO admin
 * credentials so the service gets its own least-privilege MinIO user, and the operator's own first
 * admin token in AUTH_BOOTSTRAP_ADMIN_TOKEN_FILE, as a Kubernetes Secret would mount it), until its
 * endpoints are printed; one upload and download with that token; then SIGTERM, after which no
 * process it started (service, MinIO, PostgreSQL) may be left running, and its data directory is
 * gone. The token must appear in no output: not the stack's, not the service's log.
 */
describe("npm run stack", () => {
  let dir: string;
  let stack: ChildProcess;
  let info: StackInfo;
  let output = "";
  let exited: Promise<number | null>;
  const token = `lss_${randomBytes(8).toString("hex")}_${randomBytes(32).toString("base64url")}`;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "lumenslate-stack-test-"));
    const envFile = join(dir, ".env");
    const tokenFile = join(dir, "admin-token");
    await writeFile(tokenFile, `${token}\n`, { mode: 0o600 });
    await writeFile(
      envFile,
      [
        "# the variables of .env.example; ports 0 pick free ones",
        "HTTP_PORT=0",
        "GRPC_PORT=0",
        "MINIO_ENDPOINT=localhost:0",
        "MINIO_CONSOLE_ENDPOINT=localhost:0",
        "MINIO_ACCESS_KEY=lumenslate-service",
        `MINIO_SECRET_KEY=${randomBytes(18).toString("base64url")}`,
        "MINIO_ADMIN_ACCESS_KEY=stack-root",
        `MINIO_ADMIN_SECRET_KEY=${randomBytes(18).toString("base64url")}`,
        `AUTH_BOOTSTRAP_ADMIN_TOKEN_FILE=${tokenFile}`,
        "",
      ].join("\n"),
    );
    // The test runner's own settings are not the stack's: only the env file configures it.
    const env: NodeJS.ProcessEnv = {};
    for (const [name, value] of Object.entries(process.env)) {
      if (!/^(DATABASE_URL|MINIO_(?!BINARY)|STORAGE_|NODE_ENV|LOG_LEVEL)/.test(name)) env[name] = value;
    }
    stack = spawn(process.execPath, [join(ROOT, "scripts/stack.ts"), "--env-file", envFile, "--json"], {
      cwd: dir,
      env,
      stdio: ["ignore", "pipe", "pipe"],
    });
    exited = new Promise((done) => stack.once("exit", (code) => done(code)));
    stack.stderr?.setEncoding("utf8").on("data", (chunk: string) => {
      output += chunk;
    });
    // The one JSON line on stdout says it is ready (or the process ends without it).
    const lines = createInterface({ input: stack.stdout as NodeJS.ReadableStream });
    const first = await new Promise<string | undefined>((done) => {
      lines.once("line", done);
      lines.once("close", () => done(undefined));
    });
    output += first ?? "";
    if (first === undefined) throw new Error(`the stack exited before it was ready:\n${output}`);
    info = JSON.parse(first) as StackInfo;
  });
  afterAll(async () => {
    if (stack?.exitCode === null) {
      stack.kill("SIGKILL");
      await exited;
    }
    await rm(dir, { recursive: true, force: true });
  });

  it("serves an upload and download with the adopted admin token, then stops every process on SIGTERM", async () => {
    expect(info).toMatchObject({
      http: expect.stringMatching(/^http:\/\/127\.0\.0\.1:\d+$/),
      grpc: expect.stringMatching(/^127\.0\.0\.1:\d+$/),
      minio: [expect.stringMatching(/^http:\/\/127\.0\.0\.1:\d+$/)],
    });
    const pids = [info.pids.service, ...info.pids.minio, info.pids.postgres];
    expect(pids.every((pid) => pid > 0 && alive(pid))).toBe(true);

    expect(await (await fetch(`${info.http}/readyz`)).json()).toMatchObject({
      status: "ready",
      backend: "minio",
      store: "ok",
      auth: "enabled",
    });
    // Adopted, not generated: there is no key file to hand over.
    expect(info.adminKeyFile).toBeUndefined();
    expect(existsSync(join(info.dir, "admin-key"))).toBe(false);
    const headers = { authorization: `Bearer ${token}` };
    const body = uploadableBytes(64 * 1024);
    const url = `${info.http}/v1/buckets/temp/objects/stack/check.bin`;
    const put = await fetch(url, { method: "PUT", body, headers });
    expect(put.status, await put.clone().text()).toBe(201);
    expect(((await put.json()) as { sha256: string }).sha256).toBe(sha256Of(body));
    const get = await fetch(url, { headers });
    expect(get.status).toBe(200);
    expect(sha256Of(Buffer.from(await get.arrayBuffer()))).toBe(sha256Of(body));
    expect((await fetch(url)).status).toBe(401);

    const serviceLog = await readFile(join(info.dir, "service.log"), "utf8");
    expect(serviceLog).toContain("AUTH_BOOTSTRAP_ADMIN_TOKEN_FILE"); // it did say what it did
    stack.kill("SIGTERM");
    expect(await exited).toBe(0);
    expect(pids.filter(alive)).toEqual([]);
    expect(existsSync(info.dir)).toBe(false);
    // The token is in no output (its id may be: ids are public).
    const secret = token.slice(21);
    expect(output).not.toContain(secret);
    expect(serviceLog).not.toContain(secret);
  });
});
