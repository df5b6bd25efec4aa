import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { CreateBucketCommand, PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "../src/config/config.ts";
import type { AuditRecord } from "../src/security/index.ts";
import { keyIdOf } from "./support/auth-matrix.ts";
import { runCli } from "./support/cli.ts";
import { testEnv } from "./support/config.ts";
import { sha256Of } from "./support/data.ts";
import { type OwnDatabase, ownDatabase } from "./support/database.ts";
import { bearer, type HttpHarness, jsonPost, multipartBody, startHttp, streamed } from "./support/http.ts";
import { type MinioServer, startMinio } from "./support/minio.ts";

/**
 * The audit trail end to end: a scripted sequence of 20 audited calls (mutations over HTTP, refusals,
 * and key management with the CLI between two runs of the server) on one database, then the CLI's
 * `audit query --json --since` in a child process returns exactly those 20 records, in order. The
 * database is this suite's own (a fresh PostgreSQL database when DATABASE_URL is set, else a PGlite
 * directory), so no other suite's records can interleave.
 */

const ROOT = resolve(fileURLToPath(new URL("..", import.meta.url)));
const exec = promisify(execFile);

interface Expected {
  protocol: "http" | "cli";
  action: string;
  result: string;
  keyId: string | null;
  bucket?: string;
  key?: string;
}

/** An exported audit line: the stored record without its id, time as JSON text. */
type RecordJson = Omit<AuditRecord, "id" | "time"> & { time: string };

describe("audit trail: 20 calls, 20 records", () => {
  let dir: string;
  let database: OwnDatabase;
  let env: Record<string, string>;
  let h: HttpHarness | undefined;
  let temp: string;

  /** Runs the CLI in-process on this suite's database; returns stdout (failing on a non-zero exit). */
  const cli = async (...args: string[]) => {
    const { code, stdout, stderr } = await runCli(env, ...args);
    expect({ code, stderr }).toEqual({ code: 0, stderr: "" });
    return stdout;
  };

  const serve = async () => {
    h = await startHttp("minio", env);
    temp = h.app.config.buckets.temp;
    return h;
  };
  const stop = async () => {
    await h?.close();
    h = undefined;
  };

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "lumenslate-audit-"));
    database = await ownDatabase("audit_trail", join(dir, "pglite"));
    env = testEnv({ ...database.env, AUDIT_EXPORT_INTERVAL: "off" });
    temp = loadConfig(env).buckets.temp;
  });
  afterAll(async () => {
    await stop();
    await database?.drop();
    await rm(dir, { recursive: true, force: true });
  });

  it("returns exactly the scripted calls from `audit query --json --since`", async () => {
    const since = new Date(Date.now() - 1000).toISOString();
    const expected: Expected[] = [];
    const expectRecord = (e: Expected) => expected.push(e);

    // 1-2: keys made with the CLI before the server starts (a PGlite directory has one user at a
    // time, so server and CLI take turns; PostgreSQL runs the same script).
    const uploader = JSON.parse(
      await cli(
        "keys",
        "create",
        "--service",
        "uploader",
        "--scope",
        `${temp}/in/:read,write,delete,list`,
        "--json",
      ),
    ) as { id: string; token: string };
    expectRecord({ protocol: "cli", action: "keys.create", result: "OK", keyId: uploader.id });
    const reader = JSON.parse(
      await cli("keys", "create", "--service", "reader", "--scope", `${temp}:read,list`, "--json"),
    ) as { id: string; token: string };
    expectRecord({ protocol: "cli", action: "keys.create", result: "OK", keyId: reader.id });

    // 3-15 over HTTP.
    const server = await serve();
    const url = (key: string) => server.objectUrl(temp, key);
    const as = (token: string | undefined, init: RequestInit = {}): RequestInit => ({
      ...init,
      headers: { ...(init.headers as Record<string, string> | undefined), ...(token ? bearer(token) : {}) },
    });
    const status = async (res: Promise<Response>) => {
      const r = await res;
      await r.arrayBuffer();
      return r.status;
    };

    expect(await status(fetch(url("in/a.txt"), as(uploader.token, { method: "PUT", body: "hello" })))).toBe(
      201,
    );
    expectRecord({
      protocol: "http",
      action: "upload",
      result: "OK",
      keyId: uploader.id,
      bucket: temp,
      key: "in/a.txt",
    });
    expect(await status(fetch(url("out/b.txt"), as(uploader.token, { method: "PUT", body: "x" })))).toBe(403);
    expectRecord({
      protocol: "http",
      action: "upload",
      result: "PERMISSION_DENIED",
      keyId: uploader.id,
      bucket: temp,
      key: "out/b.txt",
    });
    expect(await status(fetch(url("in/c.txt"), { method: "PUT", body: "x" }))).toBe(401);
    expectRecord({
      protocol: "http",
      action: "upload",
      result: "UNAUTHENTICATED",
      keyId: null,
      bucket: temp,
    });
    const forged = `lss_${keyIdOf(uploader.token)}_${randomBytes(32).toString("base64url")}`;
    expect(await status(fetch(url("in/c.txt"), as(forged, { method: "PUT", body: "x" })))).toBe(401);
    expectRecord({
      protocol: "http",
      action: "upload",
      result: "UNAUTHENTICATED",
      keyId: uploader.id,
      bucket: temp,
    });
    // A successful read is not an audit event.
    expect(await status(fetch(url("in/a.txt"), as(reader.token)))).toBe(200);
    expect(await status(fetch(url("in/a.txt"), as(reader.token, { method: "DELETE" })))).toBe(403);
    expectRecord({
      protocol: "http",
      action: "delete",
      result: "PERMISSION_DENIED",
      keyId: reader.id,
      bucket: temp,
    });
    const copy = (target: string) =>
      fetch(
        `${server.base}/v1/copy`,
        as(
          uploader.token,
          jsonPost({ source: { bucket: temp, key: "in/a.txt" }, target: { bucket: temp, key: target } }),
        ),
      );
    expect(await status(copy("in/a-copy.txt"))).toBe(201);
    expectRecord({
      protocol: "http",
      action: "copy",
      result: "OK",
      keyId: uploader.id,
      bucket: temp,
      key: "in/a-copy.txt",
    });
    expect(await status(copy("out/a-copy.txt"))).toBe(403);
    expectRecord({
      protocol: "http",
      action: "copy",
      result: "PERMISSION_DENIED",
      keyId: uploader.id,
      bucket: temp,
      key: "out/a-copy.txt",
    });
    const form = multipartBody([
      { name: "file", filename: "one.txt", data: Buffer.from("one") },
      { name: "file", filename: "two.txt", data: Buffer.from("two!") },
    ]);
    const posted = fetch(
      url("in/forms"),
      streamed(
        form.body,
        as(uploader.token, { method: "POST", headers: { "content-type": form.contentType } }),
      ),
    );
    expect(await status(posted)).toBe(201);
    expectRecord({
      protocol: "http",
      action: "upload",
      result: "OK",
      keyId: uploader.id,
      bucket: temp,
      key: "in/forms/",
    });
    const presign = fetch(
      `${server.base}/v1/presign`,
      as(reader.token, jsonPost({ bucket: temp, key: "in/a.txt", method: "GET" })),
    );
    expect(await status(presign)).toBe(403);
    expectRecord({
      protocol: "http",
      action: "presign",
      result: "PERMISSION_DENIED",
      keyId: reader.id,
      bucket: temp,
    });
    const prefixDelete = fetch(
      `${server.base}/v1/buckets/${temp}/objects?prefix=in/forms/`,
      as(uploader.token, { method: "DELETE" }),
    );
    expect(await status(prefixDelete)).toBe(200);
    expectRecord({
      protocol: "http",
      action: "delete-prefix",
      result: "OK",
      keyId: uploader.id,
      bucket: temp,
      key: "in/forms/",
    });
    expect(await status(fetch(url("in/missing.txt"), as(uploader.token, { method: "DELETE" })))).toBe(404);
    expectRecord({
      protocol: "http",
      action: "delete",
      result: "NOT_FOUND",
      keyId: uploader.id,
      bucket: temp,
    });
    const wrongSum = fetch(
      url("in/checked.txt"),
      as(uploader.token, {
        method: "PUT",
        body: "body",
        headers: { "x-checksum-sha256": sha256Of("other") },
      }),
    );
    expect(await status(wrongSum)).toBe(412);
    expectRecord({
      protocol: "http",
      action: "upload",
      result: "PRECONDITION_FAILED",
      keyId: uploader.id,
      bucket: temp,
    });
    const outside = fetch(`${server.base}/v1/buckets/${temp}/objects?prefix=out/`, as(uploader.token));
    expect(await status(outside)).toBe(403);
    expectRecord({
      protocol: "http",
      action: "list",
      result: "PERMISSION_DENIED",
      keyId: uploader.id,
      bucket: temp,
      key: "out/",
    });
    await stop();

    // 16-17: the CLI rotates one key and revokes the other.
    const rotated = JSON.parse(await cli("keys", "rotate", uploader.id, "--json")) as { token: string };
    expectRecord({ protocol: "cli", action: "keys.rotate", result: "OK", keyId: uploader.id });
    await cli("keys", "revoke", reader.id, "--json");
    expectRecord({ protocol: "cli", action: "keys.revoke", result: "OK", keyId: reader.id });

    // 18-20: old credentials are refused, the rotated one works.
    const again = await serve();
    const url2 = (key: string) => again.objectUrl(temp, key);
    expect(await status(fetch(url2("in/a.txt"), as(reader.token)))).toBe(401);
    expectRecord({
      protocol: "http",
      action: "download",
      result: "UNAUTHENTICATED",
      keyId: reader.id,
      bucket: temp,
    });
    expect(await status(fetch(url2("in/d.txt"), as(uploader.token, { method: "PUT", body: "old" })))).toBe(
      401,
    );
    expectRecord({
      protocol: "http",
      action: "upload",
      result: "UNAUTHENTICATED",
      keyId: uploader.id,
      bucket: temp,
    });
    expect(await status(fetch(url2("in/d.txt"), as(rotated.token, { method: "PUT", body: "new" })))).toBe(
      201,
    );
    expectRecord({
      protocol: "http",
      action: "upload",
      result: "OK",
      keyId: uploader.id,
      bucket: temp,
      key: "in/d.txt",
    });
    expect(await status(fetch(url2("in/d.txt"), as(rotated.token)))).toBe(200);
    await stop();

    expect(expected).toHaveLength(20);
    const { stdout } = await exec(
      process.execPath,
      [join(ROOT, "bin/lumenslate-storage.js"), "audit", "query", "--json", "--since", since],
      { env: { ...env, PATH: process.env.PATH ?? "", HOME: dir }, cwd: ROOT },
    );
    const records = JSON.parse(stdout) as RecordJson[];
    expect(
      records.map((r) => ({ protocol: r.protocol, action: r.action, result: r.result, keyId: r.keyId })),
    ).toEqual(
      expected.map((e) => ({ protocol: e.protocol, action: e.action, result: e.result, keyId: e.keyId })),
    );
    for (const [i, e] of expected.entries()) {
      const r = records[i] as RecordJson;
      expect(r.source).toBe("service");
      if (e.bucket) expect(r.bucket, `record ${i + 1}`).toBe(e.bucket);
      if (e.key) expect(r.key, `record ${i + 1}`).toBe(e.key);
      if (e.protocol === "http") {
        expect(r.clientAddress).toBe("127.0.0.1");
        expect(r.requestId).toEqual(expect.any(String));
      }
      if (i > 0)
        expect(Date.parse(r.time)).toBeGreaterThanOrEqual(Date.parse((records[i - 1] as RecordJson).time));
    }
    // What only the outcome knows: bytes and versions of the completed mutations.
    expect(records[2]).toMatchObject({ bytes: 5, versionId: "null", service: "uploader" });
    expect(records[7]).toMatchObject({ action: "copy", bytes: 5, details: { source: `${temp}/in/a.txt` } });
    expect(records[9]).toMatchObject({ action: "upload", bytes: 7, details: { objects: 2 } });
    // Nothing an audit reader sees carries a secret.
    for (const token of [uploader.token, reader.token, rotated.token, forged])
      expect(stdout).not.toContain(token);
  });
});

describe("MinIO's audit webhook over HTTP", () => {
  const TOKEN = randomBytes(24).toString("base64url");
  let h: HttpHarness;
  let minio: MinioServer;

  beforeAll(async () => {
    h = await startHttp("local", { MINIO_AUDIT_WEBHOOK_TOKEN: TOKEN, AUDIT_EXPORT_INTERVAL: "off" });
    // A MinIO of its own whose audit webhook points at the service's route.
    minio = await startMinio({
      env: {
        MINIO_AUDIT_WEBHOOK_ENABLE_lumenslate: "on",
        MINIO_AUDIT_WEBHOOK_ENDPOINT_lumenslate: `${h.base}/v1/minio/audit`,
        MINIO_AUDIT_WEBHOOK_AUTH_TOKEN_lumenslate: TOKEN,
      },
    });
  });
  afterAll(async () => {
    await minio?.destroy();
    await h?.close();
  });

  it("stores MinIO's events beside the service's own; a wrong token is refused before the body", async () => {
    const since = new Date(Date.now() - 1_000); // the database may hold earlier runs' records
    const client = new S3Client({
      endpoint: minio.endpoint,
      region: "us-east-1",
      forcePathStyle: true,
      credentials: { accessKeyId: minio.accessKey, secretAccessKey: minio.secretKey },
    });
    const bucket = `hook-${randomBytes(4).toString("hex")}`;
    try {
      await client.send(new CreateBucketCommand({ Bucket: bucket }));
      await client.send(new PutObjectCommand({ Bucket: bucket, Key: "dir/file.txt", Body: "hello" }));
    } finally {
      client.destroy();
    }
    const deadline = Date.now() + 30_000;
    let put: Awaited<ReturnType<typeof h.app.security.audit.query>>[number] | undefined;
    while (!put && Date.now() < deadline) {
      const events = await h.app.security.audit.query({ source: "minio", bucket });
      put = events.find((e) => e.action === "s3:PutObject");
      if (!put) await new Promise((done) => setTimeout(done, 250));
    }
    expect(put).toMatchObject({ source: "minio", protocol: "s3", bucket, key: "dir/file.txt", result: "OK" });

    const entry = JSON.stringify({ api: { name: "GetObject", bucket, object: "x", statusCode: 200 } });
    const post = (authorization?: string) =>
      fetch(`${h.base}/v1/minio/audit`, {
        method: "POST",
        headers: { "content-type": "application/json", ...(authorization ? { authorization } : {}) },
        body: entry,
      });
    const wrong = await post("Bearer not-the-webhook-token");
    expect(wrong.status).toBe(401);
    await wrong.arrayBuffer();
    // An API key is no webhook token.
    expect((await post(`Bearer ${h.token}`)).status).toBe(401);
    const ok = await post(TOKEN);
    expect(await ok.json()).toEqual({ stored: 1 });
    const refusals = await h.app.security.audit.query({ source: "service", since });
    expect(refusals.filter((r) => r.action === "minio-audit").map((r) => r.result)).toEqual([
      "UNAUTHENTICATED",
      "UNAUTHENTICATED",
    ]);
  });
});
