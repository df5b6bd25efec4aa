import { randomBytes } from "node:crypto";
import {
  AbortMultipartUploadCommand,
  CreateMultipartUploadCommand,
  ListMultipartUploadsCommand,
  type S3Client,
} from "@aws-sdk/client-s3";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createS3Client } from "../src/backends/s3/client.ts";
import { fromS3Error } from "../src/backends/s3/errors.ts";
import { multipartCopy } from "../src/backends/s3/multipart-copy.ts";
import { S3Store } from "../src/backends/s3/s3-store.ts";
import { Secret } from "../src/config/secret.ts";
import { StorageService } from "../src/core/storage-service.ts";
import { createTestApp, type TestApp } from "./support/app.ts";
import { testConfig } from "./support/config.ts";
import { bufferStream, digestStream, sha256Of } from "./support/data.ts";
import { type MinioServer, startMinio } from "./support/minio.ts";
import { createTestCa, type TestCa } from "./support/tls.ts";

/**
 * Multipart server-side copy (UploadPartCopy) against real MinIO, with a small threshold and part
 * size so a 23 MiB object takes the path production uses above 5 GiB: 5 parts of 5, 5, 5, 5, 3 MiB.
 */

const MiB = 1024 * 1024;
const SIZE = 23 * MiB;
const small = { copyThreshold: 8 * MiB, copyPartSize: 5 * MiB };
const meta = { origin: "multipart-copy-test", "trace-id": "abc-123" };

function storeFor(client: S3Client, app: TestApp): S3Store {
  return new S3Store(client, {
    partSize: app.config.storage.multipart.partSize,
    queueSize: app.config.storage.multipart.concurrency,
    probeBucket: app.config.buckets.userData,
    ...small,
  });
}

/** Multipart uploads still open for `key` (MinIO lists them per object name). */
async function openUploads(client: S3Client, bucket: string, key: string): Promise<string[]> {
  const out = await client.send(new ListMultipartUploadsCommand({ Bucket: bucket, Prefix: key }));
  return (out.Uploads ?? []).filter((u) => u.Key === key).map((u) => u.UploadId ?? "");
}

async function sha256Stored(store: S3Store, bucket: string, key: string, sseCustomerKey?: Secret) {
  const got = await store.get(bucket, key, sseCustomerKey ? { sseCustomerKey } : {});
  return (await digestStream(got.body)).sha256;
}

describe("S3Store: multipart server-side copy against MinIO", () => {
  let app: TestApp;
  let client: S3Client;
  let store: S3Store;
  let temp: string;
  let logs: string;
  let backups: string;
  const data = randomBytes(SIZE);
  const sha = sha256Of(data);

  beforeAll(async () => {
    app = await createTestApp("minio");
    client = createS3Client(app.config.s3);
    store = storeFor(client, app);
    ({ temp, logs, backups } = app.config.buckets);
    await store.put(temp, "mp/src.bin", bufferStream(data), {
      contentType: "application/x-test-data",
      metadata: meta,
    });
  });
  afterAll(async () => {
    await store?.close();
    await app?.dispose();
  });

  it("sanity: the listing used below sees an open multipart upload", async () => {
    const { UploadId } = await client.send(
      new CreateMultipartUploadCommand({ Bucket: temp, Key: "mp/open" }),
    );
    expect(await openUploads(client, temp, "mp/open")).toEqual([UploadId]);
    await client.send(new AbortMultipartUploadCommand({ Bucket: temp, Key: "mp/open", UploadId }));
    expect(await openUploads(client, temp, "mp/open")).toEqual([]);
  });

  it.each([
    ["within a bucket", () => temp],
    ["across buckets", () => logs],
  ])("copies a large object %s: same bytes, type and metadata, multipart ETag", async (_name, bucketOf) => {
    const bucket = bucketOf();
    let progress = 0;
    const result = await store.copy(
      { bucket: temp, key: "mp/src.bin" },
      { bucket, key: "mp/copy.bin" },
      {
        onProgress: (bytes) => {
          progress = bytes;
        },
      },
    );
    expect(result.etag).toMatch(/-5"?$/);
    expect(progress).toBe(SIZE);
    const head = await store.head(bucket, "mp/copy.bin");
    expect(head).toMatchObject({ size: SIZE, contentType: "application/x-test-data", metadata: meta });
    expect(head.etag).toBe(result.etag);
    expect(await sha256Stored(store, bucket, "mp/copy.bin")).toBe(sha);
    expect(await openUploads(client, bucket, "mp/copy.bin")).toEqual([]);
  });

  it("keeps a single CopyObject at or below the threshold", async () => {
    await store.put(temp, "mp/small.bin", bufferStream(data.subarray(0, 8 * MiB)), {
      contentType: "application/x-test-data",
      metadata: meta,
    });
    const result = await store.copy(
      { bucket: temp, key: "mp/small.bin" },
      { bucket: logs, key: "mp/small.bin" },
    );
    expect(result.etag).not.toMatch(/-\d+"?$/);
    expect(await store.head(logs, "mp/small.bin")).toMatchObject({ size: 8 * MiB, metadata: meta });
  });

  it("copies a specific older version from a versioned bucket", async () => {
    const older = await store.put(backups, "mp/versioned.bin", bufferStream(data), {
      contentType: "application/x-test-data",
      metadata: { generation: "1" },
    });
    const newer = randomBytes(SIZE);
    await store.put(backups, "mp/versioned.bin", bufferStream(newer), {
      contentType: "application/x-test-data",
      metadata: { generation: "2" },
    });
    expect(older.versionId).not.toBe("null");

    const result = await store.copy(
      { bucket: backups, key: "mp/versioned.bin", versionId: older.versionId },
      { bucket: backups, key: "mp/versioned-copy.bin" },
    );
    expect(result.etag).toMatch(/-5"?$/);
    expect(result.versionId).not.toBe("null"); // the target bucket is versioned too
    expect(await store.head(backups, "mp/versioned-copy.bin")).toMatchObject({
      metadata: { generation: "1" },
    });
    expect(await sha256Stored(store, backups, "mp/versioned-copy.bin")).toBe(sha);
  });

  it("a missing source is NOT_FOUND and leaves no multipart upload open", async () => {
    await expect(
      store.copy({ bucket: temp, key: "mp/missing.bin" }, { bucket: logs, key: "mp/from-missing.bin" }),
    ).rejects.toMatchObject({ code: "NOT_FOUND" });
    expect(await openUploads(client, logs, "mp/from-missing.bin")).toEqual([]);

    // The same after the upload was opened: parts fail, the upload is aborted, the error maps.
    const copying = multipartCopy(client, {
      source: {
        bucket: temp,
        key: "mp/missing.bin",
        size: SIZE,
        etag: "",
        contentType: "application/octet-stream",
        metadata: {},
      },
      target: { bucket: logs, key: "mp/from-missing.bin" },
      partSize: 5 * MiB,
      concurrency: 4,
    });
    const err = await copying.then(
      () => undefined,
      (e: unknown) => fromS3Error(e, {}),
    );
    expect(err?.code).toBe("NOT_FOUND");
    expect(await openUploads(client, logs, "mp/from-missing.bin")).toEqual([]);
    await expect(store.head(logs, "mp/from-missing.bin")).rejects.toMatchObject({ code: "NOT_FOUND" });
  });

  it("a source changed since its HEAD fails the copy (PRECONDITION_FAILED), leaving nothing", async () => {
    const copying = multipartCopy(client, {
      source: {
        bucket: temp,
        key: "mp/src.bin",
        size: SIZE,
        etag: '"0123456789abcdef0123456789abcdef-5"',
        contentType: "application/octet-stream",
        metadata: {},
      },
      target: { bucket: logs, key: "mp/stale.bin" },
      partSize: 5 * MiB,
      concurrency: 2,
    });
    const err = await copying.then(
      () => undefined,
      (e: unknown) => fromS3Error(e, {}),
    );
    expect(err?.code).toBe("PRECONDITION_FAILED");
    expect(await openUploads(client, logs, "mp/stale.bin")).toEqual([]);
    await expect(store.head(logs, "mp/stale.bin")).rejects.toMatchObject({ code: "NOT_FOUND" });
  });

  it("a copy aborted mid-way is CANCELLED and leaves no upload and no object", async () => {
    const controller = new AbortController();
    let parts = 0;
    await expect(
      store.copy(
        { bucket: temp, key: "mp/src.bin" },
        { bucket: logs, key: "mp/aborted.bin" },
        {
          signal: controller.signal,
          onProgress: () => {
            parts++;
            controller.abort(); // after the first part, with the others (4 at a time) in flight
          },
        },
      ),
    ).rejects.toMatchObject({ code: "CANCELLED" });
    expect(parts).toBeGreaterThanOrEqual(1);
    expect(parts).toBeLessThan(5);
    expect(await openUploads(client, logs, "mp/aborted.bin")).toEqual([]);
    await expect(store.head(logs, "mp/aborted.bin")).rejects.toMatchObject({ code: "NOT_FOUND" });

    // Already aborted: nothing is started at all.
    await expect(
      store.copy(
        { bucket: temp, key: "mp/src.bin" },
        { bucket: logs, key: "mp/aborted.bin" },
        { signal: AbortSignal.abort() },
      ),
    ).rejects.toMatchObject({ code: "CANCELLED" });
    expect(await openUploads(client, logs, "mp/aborted.bin")).toEqual([]);
  });

  it("StorageService.copy over this store records the source's sha256 for a large copy", async () => {
    // The app builds its own S3Store from config (which has no copy options), so the service is
    // built here over the small-threshold store, sharing the app's index.
    const service = new StorageService({
      store,
      index: app.index,
      settings: app.config.storage,
      logger: pino({ level: "silent" }),
    });
    const uploaded = await app.service.upload({
      bucket: temp,
      key: "mp/service-src.bin",
      body: bufferStream(data),
      contentType: "application/octet-stream",
      metadata: meta,
    });
    expect(uploaded.sha256).toBe(sha);

    const copied = await service.copy(
      { bucket: temp, key: "mp/service-src.bin" },
      { bucket: logs, key: "mp/service-copy.bin" },
    );
    expect(copied).toMatchObject({ size: SIZE, sha256: sha, metadata: meta });
    expect(copied.etag).toMatch(/-5"?$/);
    const row = await app.index.find(logs, "mp/service-copy.bin");
    expect(row).toMatchObject({ sha256: sha, size: SIZE, etag: copied.etag, versionId: copied.versionId });
    // The copy reads back through the service's verifying stream (it checks that sha256).
    const read = await app.service.download(logs, "mp/service-copy.bin");
    expect((await digestStream(read.body)).sha256).toBe(sha);
  });
});

describe("S3Store: multipart copy with SSE-C on MinIO over TLS", () => {
  let pki: TestCa;
  let minio: MinioServer;
  let store: S3Store;
  let client: S3Client;
  const bucket = "mp-ssec";
  const sourceKey = new Secret(randomBytes(32).toString("base64"));
  const targetKey = new Secret(randomBytes(32).toString("base64"));
  const data = randomBytes(12 * MiB + 17);

  beforeAll(async () => {
    pki = await createTestCa();
    minio = await startMinio({ certsDir: await pki.minioCertsDir() });
    const config = testConfig({
      MINIO_ENDPOINT: `127.0.0.1:${minio.port}`,
      MINIO_SECURE: "true",
      MINIO_ACCESS_KEY: minio.accessKey,
      MINIO_SECRET_KEY: minio.secretKey,
      MINIO_CA_FILE: pki.caFile,
    });
    client = createS3Client(config.s3);
    store = new S3Store(client, {
      partSize: config.storage.multipart.partSize,
      queueSize: config.storage.multipart.concurrency,
      probeBucket: bucket,
      ...small,
    });
    await store.createBucket(bucket);
  });
  afterAll(async () => {
    await store?.close();
    await minio?.destroy();
    await pki?.dispose();
  });

  it("decrypts with the source's key and encrypts the copy with the target's key", async () => {
    await store.put(bucket, "src.bin", bufferStream(data), {
      contentType: "application/x-test-data",
      metadata: meta,
      sseCustomerKey: sourceKey,
    });
    const result = await store.copy(
      { bucket, key: "src.bin", sseCustomerKey: sourceKey },
      { bucket, key: "copy.bin", sseCustomerKey: targetKey },
    );
    expect(result.etag).toMatch(/-3"?$/);
    expect(await store.head(bucket, "copy.bin", undefined, { sseCustomerKey: targetKey })).toMatchObject({
      size: data.length,
      contentType: "application/x-test-data",
      metadata: meta,
      encryption: "SSE-C",
    });
    expect(await sha256Stored(store, bucket, "copy.bin", targetKey)).toBe(sha256Of(data));
    await expect(
      store.head(bucket, "copy.bin", undefined, { sseCustomerKey: sourceKey }),
    ).rejects.toMatchObject({
      code: "PERMISSION_DENIED",
    });

    // A wrong source key: refused as a mismatch, nothing left behind.
    await expect(
      store.copy(
        { bucket, key: "src.bin", sseCustomerKey: targetKey },
        { bucket, key: "wrong.bin", sseCustomerKey: targetKey },
      ),
    ).rejects.toMatchObject({ code: "PERMISSION_DENIED", details: { sseCustomerKey: "mismatch" } });
    expect(await openUploads(client, bucket, "wrong.bin")).toEqual([]);
  });
});
