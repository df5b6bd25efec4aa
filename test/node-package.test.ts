import { execFile } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { copyFile, mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { delimiter, dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { sql } from "kysely";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import rootPkg from "../package.json" with { type: "json" };
import clientPkg from "../packages/client/package.json" with { type: "json" };
import { type GrpcHarness, startGrpc } from "./support/grpc.ts";
import { type MinioServer, startMinio } from "./support/minio.ts";

/**
 * The npm client as another project gets it: `npm pack` in packages/client (its prepack builds
 * the JavaScript and .d.ts), `npm install <tarball>` into a fresh project, no server dependency in
 * its tree, the scenario type-checked against the installed .d.ts and run by Node against a real
 * service on MinIO. npm reads dependency metadata from the registry (a tarball carries no lockfile);
 * the tarballs come from npm's cache, warm after `npm ci`.
 */

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const CLIENT = join(ROOT, "packages/client");
const NODE24 = join(ROOT, "node_modules/node/bin/node");
const TSC = join(ROOT, "node_modules/typescript/bin/tsc");

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function run(file: string, args: string[], cwd: string, extra: Record<string, string> = {}): Promise<Run> {
  // Without npm's per-script variables (`npm test` sets npm_config_*), with Node 24 first on PATH.
  const env: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(process.env)) {
    if (!name.toLowerCase().startsWith("npm_")) env[name] = value;
  }
  env.PATH = [dirname(NODE24), join(ROOT, "node_modules/.bin"), env.PATH].join(delimiter);
  return new Promise((done) => {
    execFile(
      file,
      args,
      { cwd, env: { ...env, ...extra }, maxBuffer: 64 * 1024 * 1024 },
      (err, stdout, stderr) => {
        done({ code: err ? (typeof err.code === "number" ? err.code : null) : 0, stdout, stderr });
      },
    );
  });
}

async function sizeOf(path: string): Promise<number> {
  let total = 0;
  for (const entry of await readdir(path, { recursive: true, withFileTypes: true })) {
    if (entry.isFile()) total += (await stat(join(entry.parentPath, entry.name))).size;
  }
  return total;
}

/** Every package name in `npm ls --all --json` output. */
function namesIn(tree: { dependencies?: Record<string, unknown> }, into = new Set<string>()): Set<string> {
  for (const [name, child] of Object.entries(tree.dependencies ?? {})) {
    into.add(name);
    namesIn(child as { dependencies?: Record<string, unknown> }, into);
  }
  return into;
}

/** Type-checks `file` in the consumer project against the installed package's declarations. */
async function typecheck(file: string): Promise<void> {
  await writeFile(
    join(project, "tsconfig.json"),
    JSON.stringify({
      compilerOptions: {
        module: "nodenext",
        target: "es2023",
        strict: true,
        noEmit: true,
        // Check the package's declarations too, not only the file.
        skipLibCheck: false,
        typeRoots: [join(ROOT, "node_modules/@types")],
        types: ["node"],
      },
      files: [file],
    }),
  );
  const tsc = await run(NODE24, [TSC, "-p", "."], project);
  expect(tsc, tsc.stdout).toMatchObject({ code: 0 });
}

const sha256Hex = (data: string) => createHash("sha256").update(data).digest("hex");

let scratch: string;
let project: string;
let packed: string[];

beforeAll(async () => {
  scratch = await mkdtemp(join(tmpdir(), "lumenslate-client-pkg-"));
  project = join(scratch, "consumer");
  const pack = await run("npm", ["pack", "--json", "--pack-destination", scratch], CLIENT);
  expect(pack, pack.stderr).toMatchObject({ code: 0 });
  const [info] = JSON.parse(pack.stdout.slice(pack.stdout.indexOf("["))) as {
    filename: string;
    files: { path: string }[];
  }[];
  packed = info?.files.map((f) => f.path) ?? [];
  const tarball = join(scratch, info?.filename as string);

  await mkdir(project);
  expect(await run("npm", ["init", "-y"], project)).toMatchObject({ code: 0 });
  const install = await run(
    "npm",
    ["install", "--no-audit", "--no-fund", "--prefer-offline", tarball],
    project,
  );
  expect(install, install.stderr).toMatchObject({ code: 0 });
}, 600_000);

afterAll(async () => {
  if (scratch) await rm(scratch, { recursive: true, force: true });
});

describe("@lumenslate/storage-client, packed", () => {
  it("keeps its copies of the server's error codes, metadata keys and proto current", async () => {
    const check = await run(NODE24, [join(ROOT, "scripts/gen-client-shared.ts"), "--check"], ROOT);
    expect(check, check.stderr).toMatchObject({ code: 0 });
  });

  it("ships compiled JavaScript, declarations and the proto; no TypeScript sources or tests", () => {
    expect(packed).toEqual(
      expect.arrayContaining([
        "package.json",
        "dist/index.js",
        "dist/index.d.ts",
        "dist/client.js",
        "dist/generated/protocol.js",
        "proto/lumenslate/storage/v1/storage.proto",
        "README.md",
      ]),
    );
    expect(packed.filter((p) => /\.test\.|(?<!\.d)\.ts$|^src\//.test(p))).toEqual([]);
  });

  it("installs with only its own runtime dependencies", async () => {
    const ls = await run("npm", ["ls", "--all", "--json"], project);
    const names = namesIn(JSON.parse(ls.stdout) as { dependencies?: Record<string, unknown> });
    expect(names).toContain("@lumenslate/storage-client");
    expect(names).toContain("@grpc/grpc-js");
    const serverOnly = Object.keys(rootPkg.dependencies).filter((d) => !(d in clientPkg.dependencies));
    expect(serverOnly.length).toBeGreaterThan(10);
    expect([...names].filter((n) => serverOnly.includes(n))).toEqual([]);
    // The server's tree is over 100 MB; grpc-js with proto-loader and protobufjs is a few.
    expect(await sizeOf(join(project, "node_modules"))).toBeLessThan(25 * 1024 * 1024);
  });

  it("imports by its bare name, without type stripping", async () => {
    const probe = await run(
      NODE24,
      [
        "--no-experimental-strip-types",
        "--input-type=module",
        "-e",
        'const m = await import("@lumenslate/storage-client"); console.log(typeof m.connect, typeof m.NotFoundError, Object.keys(m.ERROR_CODES).length)',
      ],
      project,
    );
    expect(probe, probe.stderr).toMatchObject({ code: 0 });
    expect(probe.stdout.trim()).toMatch(/^function function \d+$/);
  });

  describe("against a running service", () => {
    let h: GrpcHarness;

    beforeAll(async () => {
      h = await startGrpc({ env: { RATE_LIMIT_ENABLED: "false" } });
    });
    afterAll(async () => {
      await h?.close();
    });

    it("runs the README's Node quick start verbatim (the package README's is the same)", async () => {
      const quickstart = /```ts title="quickstart"\n([\s\S]*?)```/;
      const block = quickstart.exec(await readFile(join(ROOT, "README.md"), "utf8"))?.[1];
      expect(block).toBeDefined();
      const packaged = await readFile(
        join(project, "node_modules/@lumenslate/storage-client/README.md"),
        "utf8",
      );
      expect(quickstart.exec(packaged)?.[1]).toBe(block);
      await writeFile(join(project, "quickstart.mts"), block as string);
      await typecheck("quickstart.mts");
      const bucket = h.app.config.buckets.temp;
      const quick = await run(NODE24, ["quickstart.mts"], project, {
        STORAGE_GRPC_ADDRESS: h.address,
        STORAGE_API_KEY: await h.issue("quickstart", [`${bucket}:*`]),
        STORAGE_BUCKET: bucket,
      });
      expect(quick, quick.stderr).toMatchObject({ code: 0 });
      const sha = createHash("sha256").update("hello from Node\n").digest("hex");
      expect(quick.stdout.trim().split("\n")).toEqual([
        "sent 16/16 bytes",
        `stored demo/hello.txt: 16 bytes, sha256 ${sha}`,
        "listed demo/hello.txt (16 bytes)",
        expect.stringMatching(/^deleted: NOT_FOUND \(request id [0-9a-f-]{36}\)$/),
      ]);
      expect(await readFile(join(project, "hello-copy.txt"), "utf8")).toBe("hello from Node\n");
    });

    it("type-checks and runs every operation, 2,500-key pagination, 300 MiB with progress, typed errors", {
      timeout: 900_000,
    }, async () => {
      const bucket = h.app.config.buckets.temp;
      await copyFile(join(ROOT, "test/node-package/scenario.mts"), join(project, "scenario.mts"));
      await typecheck("scenario.mts");

      const scenario = await run(NODE24, ["scenario.mts"], project, {
        LSS_ADDRESS: h.address,
        LSS_TOKEN: await h.issue("pkg-writer", [`${bucket}:*`]),
        LSS_READER_TOKEN: await h.issue("pkg-reader", [`${bucket}:read`]),
        LSS_BUCKET: bucket,
        LSS_BIG_MIB: "300",
      });
      expect(scenario, scenario.stderr).toMatchObject({ code: 0 });
      const out = JSON.parse(scenario.stdout.trim().split("\n").at(-1) as string);
      const text = "hello from a fresh Node project\n";
      expect(out.small).toEqual({
        uploadedSha: expect.stringMatching(/^[0-9a-f]{64}$/),
        sha: out.small.uploadedSha,
        statSize: text.length,
        statMetadata: { origin: "scenario" },
        statType: "text/plain",
        downloaded: text,
        ranged: "hello",
        fileRoundTrip: true,
        fileSha: true,
        copiedKey: "pkg/copy.txt",
        presignedMethod: "GET",
        presignedFetch: text,
        deleted: true,
        afterDelete: "NotFoundError",
      });
      const typed = (name: string, code: string) => ({ name, code, hasRequestId: true });
      expect(out.errors).toEqual({
        notFound: typed("NotFoundError", "NOT_FOUND"),
        invalid: typed("InvalidArgumentError", "INVALID_ARGUMENT"),
        unauthenticated: typed("UnauthenticatedError", "UNAUTHENTICATED"),
        denied: typed("PermissionDeniedError", "PERMISSION_DENIED"),
        precondition: typed("PreconditionFailedError", "PRECONDITION_FAILED"),
        range: typed("RangeNotSatisfiableError", "RANGE_NOT_SATISFIABLE"),
      });
      expect(out.errorClasses).toBe(true);
      expect(out.readerCanRead).toBe(true);
      expect(out.pagination).toEqual({ pageSizes: [1000, 1000, 500], distinct: 2500, complete: true });
      const big = 300 * 1024 * 1024;
      expect(out.large).toEqual({
        size: big,
        serverShaMatches: true,
        downloadShaMatches: true,
        receivedBytes: big,
        upProgress: { calls: expect.any(Number), last: big, increasing: true },
        downProgress: { calls: expect.any(Number), last: big, increasing: true },
      });
      expect(out.large.upProgress.calls).toBeGreaterThan(100);
      expect(out.large.downProgress.calls).toBeGreaterThan(100);
    });
  });

  describe("integrity: announced uploads, verified downloads", () => {
    let h: GrpcHarness;

    beforeAll(async () => {
      h = await startGrpc({ env: { RATE_LIMIT_ENABLED: "false" } });
    });
    afterAll(async () => {
      await h?.close();
    });

    it("refuses an announced sha256 mismatch, verifies downloads by default, detects a corrupted object", {
      timeout: 300_000,
    }, async () => {
      const bucket = h.app.config.buckets.temp;
      // Corrupted behind the service's back: the store's bytes and ETag untouched, the index row's
      // sha256 no longer theirs (bit rot, as far as anyone can tell).
      const corruptKey = "int/rot.bin";
      await h.client.upload("bytes that will rot", { bucket, objectName: corruptKey });
      const falsified = await h.app.db
        .updateTable("object_versions")
        .set({ sha256: "0".repeat(64) })
        .where("bucket", "=", bucket)
        .where("key", "=", corruptKey)
        .executeTakeFirst();
      expect(Number(falsified.numUpdatedRows)).toBe(1);
      await copyFile(join(ROOT, "test/node-package/integrity.mts"), join(project, "integrity.mts"));
      await typecheck("integrity.mts");

      const scenario = await run(NODE24, ["integrity.mts"], project, {
        LSS_ADDRESS: h.address,
        LSS_TOKEN: await h.issue("integrity", [`${bucket}:*`]),
        LSS_BUCKET: bucket,
        LSS_CORRUPT_KEY: corruptKey,
      });
      expect(scenario, scenario.stderr).toMatchObject({ code: 0 });
      const out = JSON.parse(scenario.stdout.trim().split("\n").at(-1) as string);
      expect(out.refused).toEqual({ buffer: true, file: true, nothingStored: true });
      expect(out.accepted).toEqual({ text: true, bytes: true, file: true });
      expect(out.intact).toEqual({ file: true, stream: true, bytes: true });
      expect(out.corrupted).toEqual({
        toFile: { name: "DataCorruptedError", code: "DATA_CORRUPTED", hasRequestId: true },
        toBytes: true,
        leftFiles: [],
      });
      const csv = "id,total\n1,42\n";
      expect(out.lyingStore).toEqual({
        file: { name: "DataCorruptedError", code: "DATA_CORRUPTED", sha256InDetails: "0".repeat(64) },
        stream: true,
        leftFiles: [],
        unverified: true,
        uploadHeaders: [
          { expectedSize: "announced by default\n".length, sha256: sha256Hex("announced by default\n") },
          { expectedSize: csv.length, sha256: sha256Hex(csv) },
        ],
      });
    });
  });

  /**
   * Files above the direct threshold move straight between the package and MinIO: an upload
   * session the service completes (one index row, the file's sha256) and a presigned GET verified
   * against the recorded sha256; `transfer: "proxy"` forces the service's path, and a service on
   * the local backend (no direct path) is used through itself.
   */
  describe("direct transfers of large files", () => {
    let h: GrpcHarness;
    let local: GrpcHarness;
    let localRoot: string;

    beforeAll(async () => {
      h = await startGrpc({ env: { RATE_LIMIT_ENABLED: "false" } });
      localRoot = await mkdtemp(join(tmpdir(), "lumenslate-local-direct-"));
      local = await startGrpc({
        env: { RATE_LIMIT_ENABLED: "false", STORAGE_BACKEND: "local", STORAGE_LOCAL_ROOT: localRoot },
      });
    }, 120_000);
    afterAll(async () => {
      await h?.close();
      await local?.close();
      if (localRoot) await rm(localRoot, { recursive: true, force: true });
    });

    const sessionStates = async (bucket: string, key: string) =>
      (
        await sql<{ state: string }>`
          select state from upload_sessions where bucket = ${bucket} and key = ${key}`.execute(h.app.db)
      ).rows.map((r) => r.state);

    it("uploads and downloads above 64 MiB straight to MinIO, verified; proxy on request; local falls back", {
      timeout: 600_000,
    }, async () => {
      const bucket = h.app.config.buckets.temp;
      const rotKey = "direct/rot.bin";
      await h.client.uploadBytes(Buffer.concat([Buffer.from("rot\n"), randomBytes(2 * 1024 * 1024)]), {
        bucket,
        objectName: rotKey,
      });
      const falsified = await h.app.db
        .updateTable("object_versions")
        .set({ sha256: "0".repeat(64) })
        .where("bucket", "=", bucket)
        .where("key", "=", rotKey)
        .executeTakeFirst();
      expect(Number(falsified.numUpdatedRows)).toBe(1);
      await copyFile(join(ROOT, "test/node-package/direct.mts"), join(project, "direct.mts"));
      await typecheck("direct.mts");
      const since = new Date(Date.now() - 1000);

      const localBucket = local.app.config.buckets.temp;
      const scenario = await run(NODE24, ["direct.mts"], project, {
        LSS_ADDRESS: h.address,
        LSS_TOKEN: await h.issue("direct", [`${bucket}:*`]),
        LSS_BUCKET: bucket,
        LSS_ROT_KEY: rotKey,
        LSS_LOCAL_ADDRESS: local.address,
        LSS_LOCAL_TOKEN: await local.issue("direct-local", [`${localBucket}:*`]),
        LSS_LOCAL_BUCKET: localBucket,
      });
      expect(scenario, scenario.stderr).toMatchObject({ code: 0 });
      const out = JSON.parse(scenario.stdout.trim().split("\n").at(-1) as string);
      const size = "model weights, in a test\n".length + 70 * 1024 * 1024;
      const uploaded = { size, shaMatches: true };
      expect(out.direct).toEqual({
        uploaded,
        statShaMatches: true,
        upProgress: { last: size, increasing: true },
        downloaded: true,
        downloadedInfo: true,
        downProgress: { last: size, increasing: true },
      });
      expect(out.proxy).toEqual({ uploaded, downloaded: true });
      expect(out.rot).toEqual({
        name: "DataCorruptedError",
        isCorrupted: true,
        sha256InDetails: "0".repeat(64),
      });
      expect(out.local).toEqual({
        uploaded,
        downloaded: true,
        forcedUpload: { name: "UnsupportedOperationError", unsupported: true },
        forcedDownload: "UNSUPPORTED_OPERATION",
      });
      expect(out.leftFiles).toEqual([]);

      // The service's side: the large file came through one completed session and left one index
      // row; its bytes never passed through UploadFile, and its download had a URL signed.
      expect(await sessionStates(bucket, "direct/weights.bin")).toEqual(["completed"]);
      expect(await sessionStates(bucket, "proxied/weights.bin")).toEqual([]);
      const rows = await h.app.db
        .selectFrom("object_versions")
        .select(["sha256", "size"])
        .where("bucket", "=", bucket)
        .where("key", "=", "direct/weights.bin")
        .execute();
      const proxiedRow = await h.app.service.stat(bucket, "proxied/weights.bin");
      expect(rows).toEqual([{ sha256: proxiedRow.sha256, size: expect.anything() }]);
      expect(Number(rows[0]?.size)).toBe(size);
      const actions = (key: string) =>
        h.app.security.audit
          .query({ since, bucket })
          .then((records) => records.filter((r) => r.key === key && r.result === "OK").map((r) => r.action));
      const direct = await actions("direct/weights.bin");
      expect(direct).toEqual(
        expect.arrayContaining(["upload-session-create", "upload-session-complete", "presign"]),
      );
      expect(direct).not.toContain("upload");
      // Downloads are not audited; a URL signed for one is, and only the direct one had it.
      const proxiedActions = await actions("proxied/weights.bin");
      expect(proxiedActions).toContain("upload");
      expect(proxiedActions).not.toContain("presign");
    });
  });

  /**
   * Retries, as the Python package's suite tests them: a service on a MinIO of its own (the shared
   * one serves other suites), which the scenario stops and starts through a small control
   * endpoint, and a 2 s rate-limit window so a tiny budget is told to come back soon.
   */
  describe("retrying through a MinIO restart and a rate limit", () => {
    let minio: MinioServer;
    let h: GrpcHarness;
    let control: Server;
    const minioEvents: string[] = [];

    beforeAll(async () => {
      minio = await startMinio();
      h = await startGrpc({
        env: {
          MINIO_ENDPOINT: `127.0.0.1:${minio.port}`,
          MINIO_SECURE: "false",
          MINIO_ACCESS_KEY: minio.accessKey,
          MINIO_SECRET_KEY: minio.secretKey,
          RATE_LIMIT_WINDOW: "2s",
          RATE_LIMIT_REQUESTS: "10000000",
        },
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
    }, 120_000);

    afterAll(async () => {
      await new Promise((resolve) => control?.close(resolve));
      await h?.close();
      await minio?.destroy();
    });

    it("rides out the restart with replayable calls, never replays a one-shot stream, waits out retry-after", {
      timeout: 300_000,
    }, async () => {
      const bucket = h.app.config.buckets.temp;
      await copyFile(join(ROOT, "test/node-package/retries.mts"), join(project, "retries.mts"));
      await typecheck("retries.mts");
      const scenario = await run(NODE24, ["retries.mts"], project, {
        LSS_ADDRESS: h.address,
        LSS_TOKEN: await h.issue("retry-writer", [`${bucket}:*`]),
        LSS_LIMITED_TOKEN: await h.issue("retry-limited", [`${bucket}:*`], 2),
        LSS_BUCKET: bucket,
        LSS_CONTROL_URL: `http://127.0.0.1:${(control.address() as AddressInfo).port}`,
      });
      expect(scenario, scenario.stderr).toMatchObject({ code: 0 });
      const out = JSON.parse(scenario.stdout.trim().split("\n").at(-1) as string);
      // The scenario really took MinIO down and brought it back, once.
      expect(minioEvents).toEqual(["stop", "start"]);
      expect(out.oneShot).toEqual({
        name: "UnavailableError",
        code: "UNAVAILABLE",
        isUnavailable: true,
        retries: 0,
      });
      expect(out.oneShotRetries).toBe(0);
      const retried = (method: string) => ({
        methods: [method],
        codes: ["UNAVAILABLE"],
        attemptsInOrder: true,
        retried: true,
      });
      expect(out.retries).toEqual({
        buffer: retried("UploadFile"),
        file: retried("UploadFile"),
        download: retried("DownloadFile"),
      });
      expect(out.restart).toEqual({
        storedSize: "during the restart".length,
        fileSize: "a file, sent again".length,
        downloadedSize: "before".length,
        downloaded: "before",
      });
      expect(out.afterwards).toEqual({
        before: "before",
        during: "during the restart",
        file: "a file, sent again",
        pipeStored: false,
      });
      expect(out.rateLimited).toEqual({
        isRateLimited: true,
        retryAfterGiven: true,
        patientWaited: true,
        waitedCode: "RATE_LIMITED",
        waitedAtLeastRetryAfter: true,
        listed: 0,
      });
    });
  });
});
