import { spawn } from "node:child_process";
import { mkdtemp, readdir, rm } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type GrpcServer, startGrpcServer } from "../src/transports/grpc/server.ts";
import { type GrpcHarness, startGrpc } from "./support/grpc.ts";
import { type MinioServer, startMinio } from "./support/minio.ts";
import { createTestCa, type TestCa } from "./support/tls.ts";

const PACKAGE_DIR = fileURLToPath(new URL("../clients/python", import.meta.url));
const PYTHON = process.env.PYTHON ?? "python3";

function run(
  command: string,
  args: string[],
  options: { cwd?: string; env?: NodeJS.ProcessEnv } = {},
): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      cwd: options.cwd ?? PACKAGE_DIR,
      env: options.env ?? process.env,
      stdio: ["ignore", "pipe", "pipe"],
    });
    let output = "";
    const collect = (s: string) => {
      output += s;
    };
    child.stdout.setEncoding("utf8").on("data", collect);
    child.stderr.setEncoding("utf8").on("data", collect);
    child.once("error", reject);
    child.once("close", (code) => resolve({ code, output }));
  });
}

async function mustRun(command: string, args: string[], options: { cwd?: string } = {}): Promise<void> {
  const { code, output } = await run(command, args, options);
  if (code !== 0) throw new Error(`${command} ${args.join(" ")} exited ${code}:\n${output}`);
}

/**
 * The Python platform's view of the service: the `lumenslate-storage` wheel, built from
 * clients/python and installed into a fresh virtualenv (with clients/python/requirements-dev.txt,
 * which .ci/run installs too), runs its own pytest suite (clients/python/tests) against this
 * service on a private MinIO. Private, because the suite stops and restarts it to see the client
 * retry through UNAVAILABLE; it serves TLS, which SSE-C needs. Alongside: a second service with a
 * 1 MiB size limit (TooLarge), a TLS listener requiring client certificates on the main app, and a
 * small HTTP control endpoint the suite calls to stop and start MinIO.
 */
describe("Python package lumenslate-storage (wheel in a fresh venv)", () => {
  let pki: TestCa;
  let minio: MinioServer;
  let h: GrpcHarness;
  let small: GrpcHarness;
  let tlsServer: GrpcServer;
  let control: Server;
  let work: string;
  let env: NodeJS.ProcessEnv;
  const minioEvents: string[] = [];

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), "lumenslate-pypkg-"));
    // Build and install while the services start: pip is the slow part.
    const venv = join(work, "venv");
    const installed = (async () => {
      await mustRun(PYTHON, [
        "-m",
        "pip",
        "wheel",
        "--quiet",
        "--disable-pip-version-check",
        "--no-deps",
        "--no-build-isolation",
        "--wheel-dir",
        join(work, "dist"),
        ".",
      ]);
      const [wheel] = (await readdir(join(work, "dist"))).filter((f) => f.endsWith(".whl"));
      if (!wheel) throw new Error("pip wheel made no .whl");
      await mustRun(PYTHON, ["-m", "venv", venv]);
      await mustRun(join(venv, "bin/python"), [
        "-m",
        "pip",
        "install",
        "--quiet",
        "--disable-pip-version-check",
        join(work, "dist", wheel),
        "-r",
        "requirements-dev.txt",
      ]);
    })();
    installed.catch(() => {}); // awaited below; avoid an unhandled rejection while services start

    pki = await createTestCa();
    minio = await startMinio({ certsDir: await pki.minioCertsDir() });
    const serviceEnv = {
      MINIO_ENDPOINT: `127.0.0.1:${minio.port}`,
      MINIO_SECURE: "true",
      MINIO_ACCESS_KEY: minio.accessKey,
      MINIO_SECRET_KEY: minio.secretKey,
      MINIO_CA_FILE: pki.caFile,
      // A short window, so a key with a tiny budget is RATE_LIMITED and told to come back in ~2 s;
      // every other key gets a budget the suite never reaches.
      RATE_LIMIT_WINDOW: "2s",
      RATE_LIMIT_REQUESTS: "10000000",
    };
    h = await startGrpc({ env: serviceEnv });
    small = await startGrpc({ env: { ...serviceEnv, STORAGE_MAX_FILE_SIZE: "1MiB" } });
    const serverCert = await pki.issue("grpc-server");
    const clientCert = await pki.issue("python-client", { client: true });
    tlsServer = await startGrpcServer(h.app, {
      host: "127.0.0.1",
      port: 0,
      tls: { cert: serverCert.cert, key: serverCert.key, clientCa: pki.ca, requireClientCert: true },
    });

    control = createServer((req, res) => {
      const action = req.method === "POST" ? req.url : undefined;
      const done = (p: Promise<void>) =>
        p.then(
          () => res.writeHead(204).end(),
          (err: unknown) => res.writeHead(500).end(String(err)),
        );
      if (action === "/minio/stop") {
        minioEvents.push("stop");
        done(minio.stop());
      } else if (action === "/minio/start") {
        minioEvents.push("start");
        done(minio.start());
      } else res.writeHead(404).end();
    });
    await new Promise<void>((resolve) => control.listen(0, "127.0.0.1", resolve));

    const { buckets } = h.app.config;
    env = {
      ...process.env,
      PYTHONDONTWRITEBYTECODE: "1",
      PYTHON: join(venv, "bin/python"),
      LUMENSLATE_EXPECT_INSTALLED: "1",
      LUMENSLATE_GRPC_ADDRESS: h.address,
      LUMENSLATE_GRPC_TOKEN: h.adminToken,
      LUMENSLATE_GRPC_READONLY_TOKEN: await h.issue("python-readonly", [`${buckets.temp}:read,list`]),
      LUMENSLATE_GRPC_LIMITED_TOKEN: await h.issue("python-limited", [`${buckets.temp}:*`], 2),
      LUMENSLATE_TEST_BUCKET: buckets.temp,
      LUMENSLATE_TEST_OTHER_BUCKET: buckets.userData,
      // Uploads to this bucket must carry an allowed extension (STORAGE_ALLOWED_EXTENSIONS_BUCKETS).
      LUMENSLATE_TEST_CHECKED_BUCKET: buckets.userData,
      LUMENSLATE_GRPC_SMALL_ADDRESS: small.address,
      LUMENSLATE_GRPC_SMALL_TOKEN: small.adminToken,
      LUMENSLATE_GRPC_TLS_ADDRESS: `127.0.0.1:${tlsServer.port}`,
      LUMENSLATE_TLS_CA_FILE: pki.caFile,
      LUMENSLATE_TLS_CERT_FILE: clientCert.certFile,
      LUMENSLATE_TLS_KEY_FILE: clientCert.keyFile,
      LUMENSLATE_CONTROL_URL: `http://127.0.0.1:${(control.address() as AddressInfo).port}`,
    };
    await installed;
  }, 300_000);

  afterAll(async () => {
    await new Promise((resolve) => control?.close(resolve));
    await tlsServer?.close(1);
    await small?.close();
    await h?.close();
    await minio?.destroy();
    await pki?.dispose();
    if (work) await rm(work, { recursive: true, force: true });
    h?.logs.expectNoSecrets(h.secrets);
  });

  it("passes the package's pytest suite against this service", { timeout: 600_000 }, async () => {
    const { code, output } = await run(
      join(work, "venv/bin/python"),
      ["-m", "pytest", "-q", "-rs", "-p", "no:cacheprovider", "--basetemp", join(work, "pytest")],
      { env },
    );
    // pytest's closing line: only passes (and warnings), no failures, errors or skips.
    expect(output, output).toMatch(/^\d+ passed(?:, \d+ warnings?)? in [\d.]+s/m);
    expect(code, output).toBe(0);
    // The retry test really took MinIO down and brought it back.
    expect(minioEvents).toEqual(["stop", "start"]);
  });
});
