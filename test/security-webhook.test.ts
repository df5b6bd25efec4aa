import { randomBytes } from "node:crypto";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { CreateBucketCommand, PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { StorageError } from "../src/errors.ts";
import { createSecurity, type Security } from "../src/security/index.ts";
import { createTestApp, type TestApp } from "./support/app.ts";
import { type MinioServer, startMinio } from "./support/minio.ts";

/**
 * MinIO's own audit trail: a private MinIO sends its audit webhook to a tiny node:http server in
 * this test, which hands each delivery to `security.receiveMinioAudit` exactly as the HTTP route
 * will; the events must land in the audit table next to the service's own.
 */

const TOKEN = randomBytes(24).toString("base64url");

let app: TestApp;
let security: Security;
let hook: Server;
let minio: MinioServer;
const deliveries: { authorization: string | undefined; status: number }[] = [];

beforeAll(async () => {
  app = await createTestApp("local", { MINIO_AUDIT_WEBHOOK_TOKEN: TOKEN, AUDIT_EXPORT_INTERVAL: "off" });
  security = createSecurity({ config: app.config, db: app.db, service: app.service, logger: app.logger });
  hook = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      security.receiveMinioAudit(req.headers.authorization, Buffer.concat(chunks)).then(
        () => {
          deliveries.push({ authorization: req.headers.authorization, status: 200 });
          res.end();
        },
        (err: unknown) => {
          const status = err instanceof StorageError && err.code === "UNAUTHENTICATED" ? 401 : 500;
          deliveries.push({ authorization: req.headers.authorization, status });
          res.statusCode = status;
          res.end();
        },
      );
    });
  });
  await new Promise<void>((done) => hook.listen(0, "127.0.0.1", done));
  const port = (hook.address() as AddressInfo).port;
  minio = await startMinio({
    env: {
      MINIO_AUDIT_WEBHOOK_ENABLE_lumenslate: "on",
      MINIO_AUDIT_WEBHOOK_ENDPOINT_lumenslate: `http://127.0.0.1:${port}/internal/minio-audit`,
      MINIO_AUDIT_WEBHOOK_AUTH_TOKEN_lumenslate: TOKEN,
    },
  });
});

afterAll(async () => {
  await minio?.destroy();
  await new Promise((done) => hook?.close(done));
  await security?.close();
  await app?.dispose();
});

describe("MinIO audit webhook", () => {
  it("stores MinIO's events beside the service's own", async () => {
    const bucket = `hook-${randomBytes(4).toString("hex")}`;
    const client = new S3Client({
      endpoint: minio.endpoint,
      region: "us-east-1",
      forcePathStyle: true,
      credentials: { accessKeyId: minio.accessKey, secretAccessKey: minio.secretKey },
    });
    await client.send(new CreateBucketCommand({ Bucket: bucket }));
    await client.send(new PutObjectCommand({ Bucket: bucket, Key: "dir/file.txt", Body: "hello" }));
    client.destroy();

    // MinIO delivers asynchronously: wait for the PutObject event.
    const deadline = Date.now() + 30_000;
    let put: Awaited<ReturnType<Security["audit"]["query"]>>[number] | undefined;
    while (!put && Date.now() < deadline) {
      const records = await security.audit.query({ bucket, source: "minio" });
      put = records.find((r) => r.action === "s3:PutObject");
      if (!put) await new Promise((done) => setTimeout(done, 250));
    }
    expect(put).toMatchObject({
      source: "minio",
      keyId: minio.accessKey,
      protocol: "s3",
      action: "s3:PutObject",
      bucket,
      key: "dir/file.txt",
      result: "OK",
      clientAddress: "127.0.0.1",
    });
    expect(put?.requestId).toMatch(/^[0-9A-F]+$/);
    expect(put?.details).toMatchObject({ statusCode: 200 });
    const all = await security.audit.query({ bucket });
    expect(all.map((r) => r.action)).toContain("s3:PutBucket");
    // No request header (with its signature) is ever stored.
    expect(JSON.stringify(all)).not.toMatch(/Signature|AWS4-HMAC/);
    expect(deliveries.every((d) => d.status === 200)).toBe(true);
    // MinIO sends the token as the whole Authorization value.
    expect(deliveries[0]?.authorization).toBe(TOKEN);
  });

  it("refuses a delivery with the wrong token, and is off without one", async () => {
    const body = JSON.stringify({ api: { name: "PutObject", bucket: "x-forged", statusCode: 200 } });
    await expect(security.receiveMinioAudit("not-the-token", body)).rejects.toMatchObject({
      code: "UNAUTHENTICATED",
    });
    await expect(security.receiveMinioAudit(undefined, body)).rejects.toMatchObject({
      code: "UNAUTHENTICATED",
    });
    expect(await security.audit.query({ bucket: "x-forged" })).toEqual([]);
    const off = createSecurity({
      config: { ...app.config, audit: { ...app.config.audit, webhookToken: undefined } },
      db: app.db,
      service: app.service,
      logger: app.logger,
    });
    await expect(off.receiveMinioAudit(TOKEN, body)).rejects.toMatchObject({ code: "NOT_FOUND" });
  });
});
