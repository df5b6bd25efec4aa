import { spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { createServer as createHttpServer, type Server } from "node:http";
import { createServer as createTcpServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCli } from "./support/cli.ts";
import { randomBucketPrefix, testEnv } from "./support/config.ts";

/**
 * What an operator sees when `serve` cannot start: the real CLI, each failure naming the setting
 * to fix and the cause (the socket error, the port). And on the local backend, the bucket settings
 * it cannot apply are one summary line at info, not one line per bucket and setting.
 */

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");

const listening = (server: Server | ReturnType<typeof createTcpServer>) =>
  new Promise<number>((done) =>
    server.listen(0, "127.0.0.1", () => done((server.address() as { port: number }).port)),
  );

describe("serve: start-up errors name the setting and the cause", () => {
  let dir: string;
  let env: (overrides: Record<string, string>) => Record<string, string>;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "lumenslate-startup-"));
    env = (overrides) =>
      testEnv({
        HTTP_HOST: "127.0.0.1",
        GRPC_HOST: "127.0.0.1",
        HTTP_PORT: "0",
        GRPC_PORT: "0",
        AUTH_BOOTSTRAP_KEY_FILE: join(dir, "admin-key"),
        ...overrides,
      });
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("MinIO unreachable: names MINIO_ENDPOINT and the socket error", async () => {
    // A port that was free a moment ago: nothing listens there.
    const probe = createTcpServer();
    const port = await listening(probe);
    await new Promise((done) => probe.close(done));
    const run = await runCli(env({ MINIO_ENDPOINT: `127.0.0.1:${port}` }), "serve");
    expect(run.code).toBe(3);
    expect(run.stderr).toContain(`MINIO_ENDPOINT (http://127.0.0.1:${port})`);
    expect(run.stderr).toMatch(/ECONNREFUSED/);
    // The one-shot bootstrap (Compose's and Helm's job) says the same.
    const bootstrap = await runCli(env({ MINIO_ENDPOINT: `127.0.0.1:${port}` }), "bootstrap");
    expect(bootstrap.code).toBe(3);
    expect(bootstrap.stderr).toContain(`MINIO_ENDPOINT (http://127.0.0.1:${port})`);
  }, 120_000);

  it("an endpoint that is not S3: says so and names MINIO_ENDPOINT", async () => {
    const web = createHttpServer((_req, res) => {
      res.writeHead(404, { "content-type": "text/html" }).end("<html><body>Not here</body></html>");
    });
    const port = await listening(web);
    try {
      const run = await runCli(env({ MINIO_ENDPOINT: `127.0.0.1:${port}` }), "serve");
      expect(run.code).toBe(3);
      expect(run.stderr).toContain(`MINIO_ENDPOINT (http://127.0.0.1:${port}) answered HTTP 404`);
      expect(run.stderr).toContain("is not an S3 API");
      expect(run.stderr).not.toContain("No such object");
    } finally {
      await new Promise((done) => web.close(done));
    }
  }, 120_000);

  for (const setting of ["HTTP_PORT", "GRPC_PORT"] as const) {
    it(`a port in use: names ${setting}`, async () => {
      const taken = createTcpServer();
      const port = await listening(taken);
      try {
        const run = await runCli(env({ [setting]: String(port) }), "serve");
        expect(run.code).toBe(3);
        expect(run.stderr).toContain(`${setting}=${port} is already in use`);
      } finally {
        await new Promise((done) => taken.close(done));
      }
    }, 120_000);
  }
});

describe("serve on the local backend", () => {
  it("logs one summary line at info for the bucket settings it cannot apply, details at debug", async () => {
    const root = await mkdtemp(join(tmpdir(), "lumenslate-startup-local-"));
    const lines: Record<string, unknown>[] = [];
    try {
      const child = spawn(process.execPath, [join(ROOT, "bin/lumenslate-storage.js"), "serve"], {
        env: {
          ...process.env,
          ...testEnv({
            STORAGE_BACKEND: "local",
            STORAGE_LOCAL_ROOT: join(root, "objects"),
            STORAGE_BUCKET_PREFIX: randomBucketPrefix(),
            LOG_LEVEL: "info",
            LOG_FORMAT: "json",
            HTTP_HOST: "127.0.0.1",
            GRPC_HOST: "127.0.0.1",
            HTTP_PORT: "0",
            GRPC_PORT: "0",
            AUTH_BOOTSTRAP_KEY_FILE: join(root, "admin-key"),
          }),
        },
        stdio: ["ignore", "ignore", "pipe"],
      });
      let buffered = "";
      const exited = new Promise<number | null>((done) => child.on("exit", (code) => done(code)));
      await new Promise<void>((done, fail) => {
        child.stderr.setEncoding("utf8").on("data", (text: string) => {
          buffered += text;
          for (let at = buffered.indexOf("\n"); at >= 0; at = buffered.indexOf("\n")) {
            const line = buffered.slice(0, at);
            buffered = buffered.slice(at + 1);
            if (!line.startsWith("{")) continue;
            const parsed = JSON.parse(line) as Record<string, unknown>;
            lines.push(parsed);
            if (parsed.msg === "grpc listening") done();
          }
        });
        void exited.then((code) => fail(new Error(`serve exited (${code}) before listening: ${buffered}`)));
      });
      child.kill("SIGTERM");
      await exited;
    } finally {
      await rm(root, { recursive: true, force: true });
    }
    // Nothing per bucket at info: neither a "skipped" change nor a "not supported" detail.
    expect(
      lines.filter((l) => l.action === "skipped" || JSON.stringify(l).includes("not supported")),
    ).toEqual([]);
    const skipped = lines.filter((l) => String(l.msg).startsWith("bootstrap skipped"));
    expect(skipped).toHaveLength(1);
    expect(skipped[0]).toMatchObject({ level: 30, backend: "local" });
    expect(skipped[0]?.skipped).toBeGreaterThan(1);
    expect(String(skipped[0]?.msg)).toMatch(/^bootstrap skipped \d+ bucket settings .*LOG_LEVEL=debug/);
  }, 180_000);
});
