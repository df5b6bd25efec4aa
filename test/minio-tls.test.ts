import { createHash, randomBytes } from "node:crypto";
import { Readable, Writable } from "node:stream";
import { inspect } from "node:util";
import { GetObjectCommand, HeadObjectCommand } from "@aws-sdk/client-s3";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createApp } from "../src/app.ts";
import type { S3Store } from "../src/backends/s3/s3-store.ts";
import type { Secret } from "../src/config/secret.ts";
import { customerKey } from "../src/core/customer-key.ts";
import { StorageError } from "../src/errors.ts";
import { createTestApp, type TestApp } from "./support/app.ts";
import { testConfig } from "./support/config.ts";
import { bufferStream, collect, sha256Of, uploadableBytes } from "./support/data.ts";
import { type MinioServer, startMinio } from "./support/minio.ts";
import { createTestCa, type TestCa } from "./support/tls.ts";

/**
 * MinIO on TLS with a certificate made at test time (openssl), and SSE-C end to end through the
 * storage core. Error codes checked here are the documented contract:
 * untrusted store certificate → UNAVAILABLE (details.tls names the OpenSSL reason);
 * SSE-C over plain HTTP → PRECONDITION_FAILED before any byte is read (details.sseCustomerKey "needs-tls");
 * wrong key → PERMISSION_DENIED ("mismatch"); missing key → INVALID_ARGUMENT ("required");
 * key for a plain object → INVALID_ARGUMENT ("not-applicable"); local backend → UNSUPPORTED_OPERATION.
 */

const MiB = 1024 * 1024;

/** Everything the app logged, to prove the key never appears in a log line. */
const logLines: string[] = [];
const logger = pino(
  { level: "trace" },
  new Writable({
    write(chunk: Buffer, _enc, done) {
      logLines.push(chunk.toString("utf8"));
      done();
    },
  }),
);

/** Fails the test if `err` is not a StorageError with `code`, or if it carries the key anywhere. */
async function expectRefusal(
  pending: Promise<unknown>,
  code: string,
  failure: string | undefined,
  secrets: Secret[],
): Promise<StorageError> {
  const err = await pending.then(
    () => {
      throw new Error(`expected ${code}, but the call succeeded`);
    },
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(StorageError);
  const storageError = err as StorageError;
  expect({ code: storageError.code, failure: storageError.details.sseCustomerKey }).toEqual({
    code,
    failure,
  });
  // Logged as a transport would log it; afterAll scans every log line for the keys.
  logger.error({ err }, "refused");
  const everything = `${inspect(err, { depth: 12, showHidden: true })} ${JSON.stringify(storageError.toPublic())}`;
  for (const secret of secrets) expect(everything).not.toContain(secret.reveal());
  return storageError;
}

/** A body that records whether anyone ever read it. */
function watchedBody(data: Buffer): { body: Readable; wasRead: () => boolean } {
  let read = false;
  const body = new Readable({
    read() {
      read = true;
      this.push(data);
      this.push(null);
    },
  });
  return { body, wasRead: () => read };
}

describe("MinIO over TLS with a private CA", () => {
  let pki: TestCa;
  let minio: MinioServer;
  let env: Record<string, string>;
  let app: Awaited<ReturnType<typeof createApp>>;
  let bucket: string;
  const key = customerKey(randomBytes(32));
  const otherKey = customerKey(randomBytes(32).toString("base64"));
  /** Every S3 command the app sent: its name and whether it carried the SSE-C headers. */
  const sent: { command: string; sseC: boolean }[] = [];

  beforeAll(async () => {
    pki = await createTestCa();
    minio = await startMinio({ certsDir: await pki.minioCertsDir() });
    expect(minio.endpoint).toMatch(/^https:/);
    env = {
      // host:port plus MINIO_SECURE=true: config.ts turns it into https://.
      MINIO_ENDPOINT: `127.0.0.1:${minio.port}`,
      MINIO_SECURE: "true",
      MINIO_ACCESS_KEY: minio.accessKey,
      MINIO_SECRET_KEY: minio.secretKey,
      MINIO_CA_FILE: pki.caFile,
    };
    const config = testConfig(env);
    expect(config.s3.endpoint).toBe(`https://127.0.0.1:${minio.port}`);
    app = await createApp(config, logger);
    await app.bootstrap();
    bucket = config.buckets.userData;
    (app.store as S3Store).client.middlewareStack.add(
      (next, context) => async (args) => {
        const input = args.input as { SSECustomerKey?: unknown; SSECustomerAlgorithm?: unknown };
        sent.push({
          command: (context.commandName ?? "").replace(/Command$/, ""),
          sseC: Boolean(input.SSECustomerKey) && input.SSECustomerAlgorithm === "AES256",
        });
        return next(args);
      },
      { step: "initialize", name: "testSseCRecorder" },
    );
  });

  afterAll(async () => {
    await app?.close();
    await minio?.destroy();
    await pki?.dispose();
    const log = logLines.join("");
    expect(log).toContain('"msg":"refused"');
    for (const secret of [key, otherKey]) expect(log).not.toContain(secret.reveal());
  });

  it("works with MINIO_CA_FILE: ready, upload, download", async () => {
    await app.ready();
    expect(await app.store.customerKeySupport()).toBe("tls");
    const info = await app.service.upload({ bucket, key: "tls/plain.txt", body: bufferStream("over TLS") });
    expect(info.encryption).toBeUndefined();
    const download = await app.service.download(bucket, "tls/plain.txt");
    expect((await collect(download.body)).toString()).toBe("over TLS");
  });

  it("without the CA file, the certificate is not trusted: UNAVAILABLE with the reason", async () => {
    const untrusting = await createApp(testConfig({ ...env, MINIO_CA_FILE: "" }), logger);
    try {
      const err = await expectRefusal(untrusting.ready(), "UNAVAILABLE", undefined, []);
      expect(err.message).toMatch(/TLS certificate was not accepted .*MINIO_CA_FILE/);
      expect(err.details.tls).toBe("UNABLE_TO_VERIFY_LEAF_SIGNATURE");
      const { body, wasRead } = watchedBody(Buffer.from("never sent"));
      await expectRefusal(
        untrusting.service.upload({ bucket, key: "tls/x.txt", body }),
        "UNAVAILABLE",
        undefined,
        [],
      );
      expect(wasRead()).toBe(false);
    } finally {
      await untrusting.close();
    }
  });

  it("SSE-C round trip of a multipart object: every part carries the key, reads verify sha256", async () => {
    const data = uploadableBytes(40 * MiB);
    const objectKey = "ssec/big.pkl";
    sent.length = 0;
    const info = await app.service.upload({
      bucket,
      key: objectKey,
      body: Readable.from(Array.from({ length: 40 }, (_, i) => data.subarray(i * MiB, (i + 1) * MiB))),
      sseCustomerKey: key,
      expectedSha256: sha256Of(data),
    });
    expect(info).toMatchObject({ size: data.length, sha256: sha256Of(data), encryption: "SSE-C" });

    // 16 MiB parts: create + 3 parts + complete, each with the SSE-C headers.
    const upload = sent.filter((s) => /MultipartUpload|UploadPart/.test(s.command));
    expect(upload.map((s) => s.command)).toEqual([
      "CreateMultipartUpload",
      "UploadPart",
      "UploadPart",
      "UploadPart",
      "CompleteMultipartUpload",
    ]);
    expect(upload.every((s) => s.sseC)).toBe(true);

    // Encrypted at rest: a plain S3 read without the key is refused by MinIO itself.
    const raw = (app.store as S3Store).client;
    await expect(raw.send(new GetObjectCommand({ Bucket: bucket, Key: objectKey }))).rejects.toMatchObject({
      $metadata: { httpStatusCode: 400 },
    });
    const head = await raw.send(
      new HeadObjectCommand({
        Bucket: bucket,
        Key: objectKey,
        SSECustomerAlgorithm: "AES256",
        SSECustomerKey: key.reveal(),
      }),
    );
    expect(head.SSECustomerAlgorithm).toBe("AES256");

    const stat = await app.service.stat(bucket, objectKey, undefined, { sseCustomerKey: key });
    expect(stat).toMatchObject({ size: data.length, sha256: sha256Of(data), encryption: "SSE-C" });

    const full = await app.service.download(bucket, objectKey, { sseCustomerKey: key });
    const bytes = await collect(full.body); // the verifying stream fails on a sha256 mismatch
    expect(bytes.equals(data)).toBe(true);

    // A ranged read across the first part boundary.
    const start = 16 * MiB - 1000;
    const end = 16 * MiB + 999;
    const ranged = await app.service.download(bucket, objectKey, {
      sseCustomerKey: key,
      range: { start, end },
    });
    expect(ranged.range).toEqual({ start, end });
    expect((await collect(ranged.body)).equals(data.subarray(start, end + 1))).toBe(true);
  });

  it("copies SSE-C objects: same key by default, or re-encrypted under a new key", async () => {
    const data = Buffer.from("copy me, encrypted");
    await app.service.upload({ bucket, key: "ssec/src.txt", body: bufferStream(data), sseCustomerKey: key });

    const same = await app.service.copy(
      { bucket, key: "ssec/src.txt", sseCustomerKey: key },
      { bucket, key: "ssec/same.txt" },
    );
    expect(same).toMatchObject({ encryption: "SSE-C", sha256: sha256Of(data) });
    const sameRead = await app.service.download(bucket, "ssec/same.txt", { sseCustomerKey: key });
    expect((await collect(sameRead.body)).equals(data)).toBe(true);

    await app.service.copy(
      { bucket, key: "ssec/src.txt", sseCustomerKey: key },
      { bucket, key: "ssec/rekeyed.txt", sseCustomerKey: otherKey },
    );
    const rekeyed = await app.service.download(bucket, "ssec/rekeyed.txt", { sseCustomerKey: otherKey });
    expect((await collect(rekeyed.body)).equals(data)).toBe(true);
    await expectRefusal(
      app.service.download(bucket, "ssec/rekeyed.txt", { sseCustomerKey: key }),
      "PERMISSION_DENIED",
      "mismatch",
      [key, otherKey],
    );
    await expectRefusal(
      app.service.copy(
        { bucket, key: "ssec/src.txt", sseCustomerKey: otherKey },
        { bucket, key: "ssec/bad.txt" },
      ),
      "PERMISSION_DENIED",
      "mismatch",
      [key, otherKey],
    );
  });

  it("refuses a wrong, missing or needless key with clear typed errors that never hold the key", async () => {
    await app.service.upload({
      bucket,
      key: "ssec/locked.txt",
      body: bufferStream("locked"),
      sseCustomerKey: key,
    });
    const secrets = [key, otherKey];

    const wrong = await expectRefusal(
      app.service.download(bucket, "ssec/locked.txt", { sseCustomerKey: otherKey }),
      "PERMISSION_DENIED",
      "mismatch",
      secrets,
    );
    expect(wrong.message).toMatch(/does not match the key the object was stored with/);
    await expectRefusal(
      app.service.download(bucket, "ssec/locked.txt", {
        sseCustomerKey: otherKey,
        range: { start: 0, end: 1 },
      }),
      "PERMISSION_DENIED",
      "mismatch",
      secrets,
    );
    await expectRefusal(
      app.service.stat(bucket, "ssec/locked.txt", undefined, { sseCustomerKey: otherKey }),
      "PERMISSION_DENIED",
      "mismatch",
      secrets,
    );
    await expectRefusal(
      app.service.download(bucket, "ssec/locked.txt"),
      "INVALID_ARGUMENT",
      "required",
      secrets,
    );
    await expectRefusal(app.service.stat(bucket, "ssec/locked.txt"), "INVALID_ARGUMENT", "required", secrets);
    await expectRefusal(
      app.service.download(bucket, "tls/plain.txt", { sseCustomerKey: key }),
      "INVALID_ARGUMENT",
      "not-applicable",
      secrets,
    );
    expect(() => customerKey(randomBytes(31))).toThrow(/exactly 32 bytes/);
    expect(() => customerKey("not base64!")).toThrow(/base64/);
    expect(() => customerKey(key.reveal(), "AAAAAAAAAAAAAAAAAAAAAA==")).toThrow(/MD5/);
    const md5 = createHash("md5").update(Buffer.from(key.reveal(), "base64")).digest("base64");
    expect(customerKey(key.reveal(), md5).reveal()).toBe(key.reveal());

    // Deleting needs no key (as in S3), and the object is gone.
    await app.service.delete(bucket, "ssec/locked.txt");
    await expectRefusal(
      app.service.stat(bucket, "ssec/locked.txt", undefined, { sseCustomerKey: key }),
      "NOT_FOUND",
      undefined,
      secrets,
    );
  });
});

describe("SSE-C without TLS", () => {
  let app: TestApp;
  let local: TestApp;
  const key = customerKey(randomBytes(32));

  beforeAll(async () => {
    app = await createTestApp("minio");
    local = await createTestApp("local");
  });
  afterAll(async () => {
    await app?.dispose();
    await local?.dispose();
  });

  it("is refused over plain HTTP before any byte is read, and nothing is written", async () => {
    expect(app.config.s3.endpoint).toMatch(/^http:/);
    expect(await app.store.customerKeySupport()).toBe("plaintext");
    const bucket = app.config.buckets.userData;
    const { body, wasRead } = watchedBody(Buffer.from("secret payload"));
    const err = await expectRefusal(
      app.service.upload({ bucket, key: "ssec/plain-http.txt", body, sseCustomerKey: key }),
      "PRECONDITION_FAILED",
      "needs-tls",
      [key],
    );
    expect(err.message).toContain("SSE-C needs TLS to the object store (MINIO_SECURE=true)");
    expect(wasRead()).toBe(false);
    await expectRefusal(app.service.stat(bucket, "ssec/plain-http.txt"), "NOT_FOUND", undefined, [key]);
    // The index may be shared with the TLS suite above (one PostgreSQL in CI): look for this key only.
    expect((await app.service.list(bucket, { prefix: "ssec/" })).objects.map((o) => o.key)).not.toContain(
      "ssec/plain-http.txt",
    );
    expect((await app.store.list(bucket, { prefix: "ssec/" })).objects).toEqual([]);

    await app.service.upload({ bucket, key: "ssec/existing.txt", body: bufferStream("plain") });
    for (const pending of [
      app.service.download(bucket, "ssec/existing.txt", { sseCustomerKey: key }),
      app.service.stat(bucket, "ssec/existing.txt", undefined, { sseCustomerKey: key }),
      app.service.copy(
        { bucket, key: "ssec/existing.txt" },
        { bucket, key: "ssec/copy.txt", sseCustomerKey: key },
      ),
    ]) {
      await expectRefusal(pending, "PRECONDITION_FAILED", "needs-tls", [key]);
    }
    // The store refuses too, for callers that skip the core.
    await expectRefusal(
      app.store.put(bucket, "ssec/direct.txt", bufferStream("x"), {
        contentType: "text/plain",
        metadata: {},
        sseCustomerKey: key,
      }),
      "PRECONDITION_FAILED",
      "needs-tls",
      [key],
    );
    await expectRefusal(app.service.stat(bucket, "ssec/copy.txt"), "NOT_FOUND", undefined, [key]);
  });

  it("is refused by the local backend as UNSUPPORTED_OPERATION", async () => {
    const bucket = local.config.buckets.userData;
    const { body, wasRead } = watchedBody(Buffer.from("x"));
    await expectRefusal(
      local.service.upload({ bucket, key: "ssec/local.txt", body, sseCustomerKey: key }),
      "UNSUPPORTED_OPERATION",
      "unsupported",
      [key],
    );
    expect(wasRead()).toBe(false);
    await expectRefusal(
      local.store.get(bucket, "ssec/local.txt", { sseCustomerKey: key }),
      "UNSUPPORTED_OPERATION",
      "unsupported",
      [key],
    );
  });
});
