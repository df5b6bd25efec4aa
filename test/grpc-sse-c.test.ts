import { createHash, randomBytes } from "node:crypto";
import { Metadata, type ServiceError, status } from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type DownloadResult, StorageClientError } from "../packages/client/src/index.ts";
import { SSE_C_KEY_METADATA, SSE_C_MD5_METADATA } from "../src/transports/grpc/sse-c.ts";
import { sha256Of, uploadableBytes } from "./support/data.ts";
import { failure, type GrpcHarness, startGrpc } from "./support/grpc.ts";
import { type MinioServer, startMinio } from "./support/minio.ts";
import { createTestCa, type TestCa } from "./support/tls.ts";

const MiB = 1024 * 1024;
const md5 = (bytes: Uint8Array) => createHash("md5").update(bytes).digest("base64");

/**
 * A download read to its end or its failure: whether the header (the object's FileInfo) arrived,
 * how many bytes did, and the error. A refused read must deliver neither header nor bytes.
 */
async function attempt(
  start: () => Promise<DownloadResult>,
): Promise<{ header: boolean; bytes: number; error?: StorageClientError }> {
  let header = false;
  let bytes = 0;
  try {
    const { stream } = await start();
    header = true;
    for await (const chunk of stream) bytes += (chunk as Buffer).length;
    return { header, bytes };
  } catch (err) {
    expect(err).toBeInstanceOf(StorageClientError);
    return { header, bytes, error: err as StorageClientError };
  }
}

/** SSE-C through the gRPC API: end to end with MinIO on TLS, refused clearly over plain http. */
describe("gRPC API: customer-provided keys (SSE-C)", () => {
  let pki: TestCa;
  let minio: MinioServer;
  let tls: GrpcHarness;
  let plain: GrpcHarness;
  let bucket: string;
  const key = randomBytes(32);
  const keyTexts = [key.toString("base64"), key.toString("hex"), key.toString("base64url")];
  const data = uploadableBytes(20 * MiB + 123);
  const objectName = "secret/data.bin";
  const ref = () => ({ bucket, objectName });
  /** Nothing under `prefix` in the TLS MinIO: not in the store, and not in the index. */
  const expectNothingAt = async (prefix: string, name: string) => {
    expect((await tls.app.store.list(bucket, { prefix })).objects).toEqual([]);
    expect((await failure(tls.client.stat({ bucket, objectName: name }))).code).toBe("NOT_FOUND");
  };

  beforeAll(async () => {
    pki = await createTestCa();
    minio = await startMinio({ certsDir: await pki.minioCertsDir() });
    tls = await startGrpc({
      env: {
        MINIO_ENDPOINT: `127.0.0.1:${minio.port}`,
        MINIO_SECURE: "true",
        MINIO_ACCESS_KEY: minio.accessKey,
        MINIO_SECRET_KEY: minio.secretKey,
        MINIO_CA_FILE: pki.caFile,
        RATE_LIMIT_ENABLED: "false",
      },
    });
    plain = await startGrpc({ env: { RATE_LIMIT_ENABLED: "false" } });
    bucket = tls.app.config.buckets.temp;
  });
  afterAll(async () => {
    await tls?.close();
    await plain?.close();
    await minio?.destroy();
    await pki?.dispose();
  });

  it("stores encrypted bytes that only the same key reads back, in full, by range and by stat", async () => {
    const put = await tls.client.upload(data, { ...ref(), sseCustomerKey: key });
    expect(put.size).toBe(data.length);
    expect(put.sha256).toBe(sha256Of(data));

    // Encrypted at rest: the store itself cannot read the object without the key.
    const direct = await tls.app.store.get(bucket, objectName).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(direct).toMatchObject({ code: "INVALID_ARGUMENT", details: { sseCustomerKey: "required" } });

    const full = await tls.client.downloadStream({ ...ref(), sseCustomerKey: key, verify: true });
    expect(full.contentLength).toBe(data.length);
    const chunks: Buffer[] = [];
    for await (const chunk of full.stream) chunks.push(chunk as Buffer);
    expect(Buffer.concat(chunks).equals(data)).toBe(true);

    const part = await tls.client.downloadStream({
      ...ref(),
      sseCustomerKey: key,
      range: { start: 16777200, end: 16777299 },
    });
    const partChunks: Buffer[] = [];
    for await (const chunk of part.stream) partChunks.push(chunk as Buffer);
    expect(Buffer.concat(partChunks).equals(data.subarray(16777200, 16777300))).toBe(true);

    const info = await tls.client.stat(ref(), { sseCustomerKey: key });
    expect(info.size).toBe(data.length);
    expect(info.sha256).toBe(sha256Of(data));
    expect(info.versionId).toBe(put.versionId);
  });

  it("refuses a read without the key (INVALID_ARGUMENT) and with a wrong key (PERMISSION_DENIED), sending nothing", async () => {
    const withoutKey = await attempt(() => tls.client.downloadStream(ref()));
    expect(withoutKey.error?.code).toBe("INVALID_ARGUMENT");
    expect(withoutKey.error?.grpcCode).toBe(status.INVALID_ARGUMENT);
    expect(withoutKey.error?.details.sseCustomerKey).toBe("required");
    expect(withoutKey.header).toBe(false);
    expect(withoutKey.bytes).toBe(0);

    const wrongKey = await attempt(() =>
      tls.client.downloadStream({ ...ref(), sseCustomerKey: randomBytes(32) }),
    );
    expect(wrongKey.error?.code).toBe("PERMISSION_DENIED");
    expect(wrongKey.error?.grpcCode).toBe(status.PERMISSION_DENIED);
    expect(wrongKey.error?.details.sseCustomerKey).toBe("mismatch");
    expect(wrongKey.header).toBe(false);
    expect(wrongKey.bytes).toBe(0);

    const statWithout = await failure(tls.client.stat(ref()));
    expect(statWithout.code).toBe("INVALID_ARGUMENT");
    const statWrong = await failure(tls.client.stat(ref(), { sseCustomerKey: randomBytes(32) }));
    expect(statWrong.code).toBe("PERMISSION_DENIED");

    const malformed = await attempt(() =>
      tls.client.downloadStream({ ...ref(), sseCustomerKey: randomBytes(16) }),
    );
    expect(malformed.error?.grpcCode).toBe(status.INVALID_ARGUMENT);
    expect(malformed.error?.details.sseCustomerKey).toBe("invalid");
    expect(malformed.header).toBe(false);
    expect(malformed.bytes).toBe(0);

    for (const err of [withoutKey.error, wrongKey.error, statWithout, statWrong, malformed.error]) {
      const seen = `${err?.message} ${JSON.stringify(err?.details)}`;
      for (const text of keyTexts) expect(seen).not.toContain(text);
    }
  });

  it("refuses a malformed key with INVALID_ARGUMENT and writes nothing", async () => {
    const short = await failure(
      tls.client.upload(randomBytes(64 * 1024), {
        bucket,
        objectName: "malformed/short.bin",
        sseCustomerKey: randomBytes(16),
      }),
    );
    expect(short.code).toBe("INVALID_ARGUMENT");
    expect(short.grpcCode).toBe(status.INVALID_ARGUMENT);
    expect(short.message).toMatch(/exactly 32 bytes/);
    expect(short.details).toMatchObject({ field: "sseCustomerKey", sseCustomerKey: "invalid" });
    await expectNothingAt("malformed/", "malformed/short.bin");

    // A key damaged in transit: its MD5 does not match (sent as raw metadata, as another client would).
    const damaged = tls.connect({
      token: tls.adminToken,
      metadata: { [SSE_C_KEY_METADATA]: key.toString("base64"), [SSE_C_MD5_METADATA]: md5(randomBytes(32)) },
    });
    const badMd5 = await failure(damaged.upload("secret", { bucket, objectName: "malformed/md5.bin" }));
    expect(badMd5.grpcCode).toBe(status.INVALID_ARGUMENT);
    expect(badMd5.message).toMatch(/MD5 does not match/);
    await expectNothingAt("malformed/", "malformed/md5.bin");
  });

  it("refuses a key sent twice rather than using either", async () => {
    /** StatFile through the generated client, with metadata built by hand; resolves with its error. */
    const rawStat = (keys: string[]) => {
      const metadata = new Metadata();
      metadata.set("authorization", `Bearer ${tls.adminToken}`);
      for (const value of keys) metadata.add(SSE_C_KEY_METADATA, value);
      return new Promise<ServiceError | null>((resolve) => {
        tls.client.raw.statFile(ref(), metadata, (err) => resolve(err));
      });
    };
    // The same call with the key once succeeds: only the repetition is refused.
    expect(await rawStat([key.toString("base64")])).toBeNull();
    const err = await rawStat([key.toString("base64"), randomBytes(32).toString("base64")]);
    expect(err?.code).toBe(status.INVALID_ARGUMENT);
  });

  it("refuses a customer key when the object store is reached over plain http, writing nothing", async () => {
    const plainBucket = plain.app.config.buckets.temp;
    const err = await failure(
      plain.client.upload("secret", {
        bucket: plainBucket,
        objectName: "secret/plain.bin",
        sseCustomerKey: key,
      }),
    );
    expect(err.code).toBe("PRECONDITION_FAILED");
    expect(err.grpcCode).toBe(status.FAILED_PRECONDITION);
    expect(err.message).toMatch(/SSE-C needs TLS/);
    expect(err.details.sseCustomerKey).toBe("needs-tls");
    const seen = `${err.message} ${JSON.stringify(err.details)}`;
    for (const text of keyTexts) expect(seen).not.toContain(text);
    expect((await plain.app.store.list(plainBucket, { prefix: "secret/" })).objects).toEqual([]);
  });

  it("keeps the key out of every log line and audit record", async () => {
    for (const h of [tls, plain]) {
      // The scans below must have something to scan: the calls above were logged and audited.
      const uploads = h.logs.lines.filter((l) => String(l.method).endsWith("/UploadFile"));
      expect(uploads.length).toBeGreaterThan(0);
      h.logs.expectNoSecrets([...h.secrets, ...keyTexts, minio.secretKey]);
      const audit = await h.app.security.audit.query({ limit: 10_000 });
      expect(audit.some((r) => r.action === "upload")).toBe(true);
      const text = JSON.stringify(audit);
      for (const secret of keyTexts) expect(text).not.toContain(secret);
    }
  });
});
