import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { buffer } from "node:stream/consumers";
import { gunzipSync } from "node:zlib";
import { GetObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { StorageError } from "../src/errors.ts";
import { createSecurity, type Security } from "../src/security/index.ts";
import { parseScope } from "../src/security/scopes.ts";
import { createTestApp, type TestApp } from "./support/app.ts";
import { runCli } from "./support/cli.ts";
import { testEnv } from "./support/config.ts";
import { type OwnDatabase, ownDatabase } from "./support/database.ts";

/**
 * The audit trail end to end: refusals recorded by `check`, hourly export to the logs bucket of the
 * real MinIO as gzip JSON lines that gunzip back to exactly the stored records, and the CLI.
 * Exports read every record of an hour, so these run on a database of their own (PostgreSQL when
 * DATABASE_URL is set, else PGlite).
 */

const HOUR = 3_600_000;
const FAST = { N: 1024, r: 8, p: 1 };

let database: OwnDatabase;
let app: TestApp;
let security: Security;

beforeAll(async () => {
  database = await ownDatabase("security_audit");
  app = await createTestApp("minio", { ...database.env, AUDIT_EXPORT_INTERVAL: "off" });
  security = createSecurity({
    config: app.config,
    db: app.db,
    service: app.service,
    logger: app.logger,
    scrypt: FAST,
  });
});
afterAll(async () => {
  await security?.close();
  await app?.dispose();
  await database?.drop();
});

async function errorOf(run: () => Promise<unknown>): Promise<StorageError | undefined> {
  try {
    await run();
  } catch (err) {
    if (err instanceof StorageError) return err;
    throw err;
  }
  return undefined;
}

async function readObject(bucket: string, key: string): Promise<Buffer> {
  const download = await app.service.download(bucket, key);
  return buffer(download.body);
}

describe("check", () => {
  it("returns the principal when allowed, and audits each refusal once", async () => {
    const bucket = app.config.buckets.userData;
    const issued = await security.keys.create({
      service: "uploader",
      scopes: [parseScope(`${bucket}/users/{user_id}/:read,write`)],
    });
    const call = { clientAddress: "10.1.2.3", protocol: "http" as const };
    const ok = await security.check(
      { ...call, authorization: `Bearer ${issued.token.reveal()}`, requestId: "r-ok" },
      {
        action: "write",
        bucket,
        key: "users/alice/a.txt",
        bindings: { user_id: "alice" },
        operation: "upload",
      },
    );
    expect(ok.keyId).toBe(issued.key.id);

    const denied = await errorOf(() =>
      security.check(
        { ...call, authorization: `Bearer ${issued.token.reveal()}`, requestId: "r-denied" },
        {
          action: "write",
          bucket,
          key: "users/bob/a.txt",
          bindings: { user_id: "alice" },
          operation: "upload",
        },
      ),
    );
    expect(denied?.code).toBe("PERMISSION_DENIED");
    const wrong = `lss_${issued.key.id}_${"x".repeat(43)}`;
    const unauthenticated = await errorOf(() =>
      security.check(
        { ...call, protocol: "grpc", authorization: `Bearer ${wrong}`, requestId: "r-bad" },
        { action: "read", bucket, key: "users/alice/a.txt", operation: "download" },
      ),
    );
    expect(unauthenticated?.code).toBe("UNAUTHENTICATED");

    const records = await security.audit.query({ bucket });
    expect(
      records.map((r) => [r.requestId, r.keyId, r.service, r.protocol, r.action, r.key, r.result]),
    ).toEqual([
      ["r-denied", issued.key.id, "uploader", "http", "upload", "users/bob/a.txt", "PERMISSION_DENIED"],
      ["r-bad", issued.key.id, null, "grpc", "download", "users/alice/a.txt", "UNAUTHENTICATED"],
    ]);
    expect(records.every((r) => r.clientAddress === "10.1.2.3")).toBe(true);
    expect(JSON.stringify(records)).not.toContain("x".repeat(43));
  });
});

describe("hourly export", () => {
  const now = new Date();
  const thisHour = Math.floor(now.getTime() / HOUR) * HOUR;
  const bucket = "export-target";

  it("writes each complete hour once, as gzip JSON lines that gunzip to the records", async () => {
    const twoHoursAgo = new Date(thisHour - 2 * HOUR + 5 * 60_000);
    const lastHour = new Date(thisHour - HOUR + 10 * 60_000);
    await security.audit.recordMany([
      { time: twoHoursAgo, action: "upload", bucket, key: "a.bin", result: "OK", bytes: 10, keyId: "k-a" },
      {
        time: twoHoursAgo,
        action: "delete",
        bucket,
        key: "a.bin",
        result: "PERMISSION_DENIED",
        keyId: "k-b",
      },
      {
        time: lastHour,
        source: "minio",
        action: "s3:PutObject",
        bucket,
        key: "b.bin",
        result: "OK",
        details: { statusCode: 200 },
      },
    ]);
    // Other records of this test file (the check suite) fall in the current hour: not exported yet.
    // No grace period, so the test does not depend on the minute it runs in.
    const exported = await security.exportAudit({ now, graceSeconds: 0 });
    expect(exported.map((e) => [e.hour.getTime(), e.records, e.complete])).toEqual([
      [thisHour - 2 * HOUR, 2, true],
      [thisHour - HOUR, 1, true],
    ]);
    const first = exported[0];
    expect(first?.bucket).toBe(app.config.buckets.logs);
    const d = new Date(thisHour - 2 * HOUR);
    const pad = (n: number) => String(n).padStart(2, "0");
    expect(first?.key).toBe(
      `audit/${d.getUTCFullYear()}/${pad(d.getUTCMonth() + 1)}/${pad(d.getUTCDate())}/${pad(d.getUTCHours())}.jsonl.gz`,
    );

    for (const e of exported) {
      const gz = await readObject(e.bucket, e.key);
      expect(gz.subarray(0, 2)).toEqual(Buffer.from([0x1f, 0x8b]));
      const lines = gunzipSync(gz).toString("utf8").trimEnd().split("\n");
      const stored = await security.audit.query({ since: e.hour, until: new Date(e.hour.getTime() + HOUR) });
      expect(lines.map((l) => JSON.parse(l))).toEqual(JSON.parse(JSON.stringify(stored)));
    }
    const info = await app.service.stat(app.config.buckets.logs, first?.key as string);
    expect(info.contentType).toBe("application/gzip");

    // A second run finds nothing new: each hour is written once.
    expect(await security.exportAudit({ now, graceSeconds: 0 })).toEqual([]);
  });

  it("can write the current hour early, and replaces it once the hour is over", async () => {
    await security.audit.record({ action: "upload", bucket, key: "c.bin", result: "OK" });
    const early = await security.exportAudit({ now, graceSeconds: 0, includeCurrentHour: true });
    const current = early.find((e) => e.hour.getTime() === thisHour);
    expect(current?.complete).toBe(false);
    const partial = gunzipSync(await readObject(app.config.buckets.logs, current?.key as string));
    const partialLines = partial.toString("utf8").trimEnd().split("\n");

    await security.audit.record({ action: "upload", bucket, key: "d.bin", result: "OK" });
    const later = await security.exportAudit({ now: new Date(thisHour + HOUR + 10 * 60_000) });
    const full = later.find((e) => e.hour.getTime() === thisHour);
    expect(full?.complete).toBe(true);
    expect(full?.key).toBe(current?.key);
    const lines = gunzipSync(await readObject(app.config.buckets.logs, full?.key as string))
      .toString("utf8")
      .trimEnd()
      .split("\n");
    expect(lines.length).toBe(partialLines.length + 1);
    expect(JSON.parse(lines.at(-1) as string)).toMatchObject({ key: "d.bin", action: "upload" });
  });

  it("is readable with a plain S3 client (the object is a normal gzip file)", async () => {
    const [anyExport] = await security.audit.query({ bucket, limit: 1 });
    expect(anyExport).toBeDefined();
    const s3 = new S3Client({
      endpoint: app.config.s3.endpoint,
      region: app.config.s3.region,
      forcePathStyle: true,
      credentials: {
        accessKeyId: app.config.s3.accessKeyId?.reveal() as string,
        secretAccessKey: app.config.s3.secretAccessKey?.reveal() as string,
      },
    });
    const d = new Date(thisHour - 2 * HOUR);
    const pad = (n: number) => String(n).padStart(2, "0");
    const got = await s3.send(
      new GetObjectCommand({
        Bucket: app.config.buckets.logs,
        Key: `audit/${d.getUTCFullYear()}/${pad(d.getUTCMonth() + 1)}/${pad(d.getUTCDate())}/${pad(d.getUTCHours())}.jsonl.gz`,
      }),
    );
    const text = gunzipSync(Buffer.from((await got.Body?.transformToByteArray()) ?? [])).toString("utf8");
    expect(text.trimEnd().split("\n")).toHaveLength(2);
    s3.destroy();
  });
});

describe("audit commands", () => {
  let tmp: string;
  let cliDatabase: OwnDatabase;
  let env: Record<string, string>;

  // Its own database too: the queries below expect exactly the records these commands made.
  beforeAll(async () => {
    tmp = await mkdtemp(join(tmpdir(), "lumenslate-audit-cli-"));
    cliDatabase = await ownDatabase("audit_cli", join(tmp, "pglite"));
    env = testEnv(cliDatabase.env);
  });
  afterAll(async () => {
    await cliDatabase?.drop();
    await rm(tmp, { recursive: true, force: true });
  });

  const run = (...argv: string[]) => runCli(env, ...argv);

  it("queries by key and bucket, and exports", async () => {
    await run("keys", "create", "--service", "cli-audit", "--scope", "temp:read", "--json");
    const all = await run("audit", "query", "--json");
    const records = JSON.parse(all.stdout) as { keyId: string; action: string }[];
    expect(records.map((r) => r.action)).toEqual(["keys.create"]);
    const byKey = await run("audit", "query", "--key", records[0]?.keyId as string);
    expect(byKey.stdout).toContain("keys.create");
    const none = await run("audit", "query", "--bucket", "nothing-here");
    expect(none.stdout).toBe("no audit records\n");

    expect((await run("audit", "export")).stdout).toBe("nothing to export\n");
    const early = await run("audit", "export", "--include-current", "--json");
    expect(early.code).toBe(0);
    const exported = JSON.parse(early.stdout) as { records: number; complete: boolean; key: string }[];
    expect(exported).toEqual([expect.objectContaining({ records: 1, complete: false })]);
    expect(exported[0]?.key).toMatch(/^audit\/\d{4}\/\d{2}\/\d{2}\/\d{2}\.jsonl\.gz$/);
  });
});
