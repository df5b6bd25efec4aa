import { createHash, randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { uploadableBytes } from "./support/data.ts";
import { type HttpHarness, startHttp } from "./support/http.ts";
import { type MinioServer, startMinio } from "./support/minio.ts";
import { createTestCa, type TestCa } from "./support/tls.ts";

const MiB = 1024 * 1024;
const keyHeaders = (key: Buffer) => ({
  "x-amz-server-side-encryption-customer-key": key.toString("base64"),
  "x-amz-server-side-encryption-customer-key-md5": createHash("md5").update(key).digest("base64"),
});

/** SSE-C through the HTTP API: end to end with MinIO on TLS, refused clearly over plain http. */
describe("HTTP API: customer-provided keys (SSE-C)", () => {
  let pki: TestCa;
  let minio: MinioServer;
  let tls: HttpHarness;
  let plain: HttpHarness;
  const key = randomBytes(32);
  const data = uploadableBytes(20 * MiB + 123);

  beforeAll(async () => {
    pki = await createTestCa();
    minio = await startMinio({ certsDir: await pki.minioCertsDir() });
    tls = await startHttp("minio", {
      MINIO_ENDPOINT: `127.0.0.1:${minio.port}`,
      MINIO_SECURE: "true",
      MINIO_ACCESS_KEY: minio.accessKey,
      MINIO_SECRET_KEY: minio.secretKey,
      MINIO_CA_FILE: pki.caFile,
    });
    plain = await startHttp("minio");
  });
  afterAll(async () => {
    await tls?.close();
    await plain?.close();
    await minio?.destroy();
    await pki?.dispose();
  });

  it("stores encrypted bytes that only the same key reads back, in full and by range", async () => {
    const bucket = tls.app.config.buckets.temp;
    const url = tls.objectUrl(bucket, "secret/data.bin");
    const put = await tls.fetch(url, { method: "PUT", body: data, headers: keyHeaders(key) });
    expect(put.status).toBe(201);

    const full = await tls.fetch(url, { headers: keyHeaders(key) });
    expect(full.status).toBe(200);
    expect(Buffer.from(await full.arrayBuffer()).equals(data)).toBe(true);

    const part = await tls.fetch(url, { headers: { ...keyHeaders(key), range: "bytes=16777200-16777299" } });
    expect(part.status).toBe(206);
    expect(Buffer.from(await part.arrayBuffer()).equals(data.subarray(16777200, 16777300))).toBe(true);

    const head = await tls.fetch(url, { method: "HEAD", headers: keyHeaders(key) });
    expect(head.status).toBe(200);
    expect(head.headers.get("content-length")).toBe(String(data.length));

    const withoutKey = await tls.fetch(url);
    expect(withoutKey.status).toBe(400);
    expect(await withoutKey.json()).toMatchObject({ code: "INVALID_ARGUMENT" });
    const wrongKey = await tls.fetch(url, { headers: keyHeaders(randomBytes(32)) });
    expect(wrongKey.status).toBe(403);
    const badMd5 = await tls.fetch(url, {
      headers: { ...keyHeaders(key), "x-amz-server-side-encryption-customer-key-md5": "AAAA" },
    });
    expect(badMd5.status).toBe(400);
    for (const res of [withoutKey, wrongKey, badMd5]) {
      expect(JSON.stringify(Object.fromEntries(res.headers))).not.toContain(key.toString("base64"));
    }
  });

  it("refuses a customer key when the object store is reached over plain http, writing nothing", async () => {
    const bucket = plain.app.config.buckets.temp;
    const url = plain.objectUrl(bucket, "secret/plain.bin");
    const put = await plain.fetch(url, { method: "PUT", body: "secret", headers: keyHeaders(key) });
    expect(put.status).toBe(412);
    const problem = (await put.json()) as { code: string; detail: string };
    expect(problem.code).toBe("PRECONDITION_FAILED");
    expect(problem.detail).toMatch(/SSE-C needs TLS/);
    expect(JSON.stringify(problem)).not.toContain(key.toString("base64"));
    expect((await plain.app.store.list(bucket, { prefix: "secret/" })).objects).toEqual([]);
  });
});
