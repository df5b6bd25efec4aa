import { Readable } from "node:stream";
import { Metadata, status } from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { connect, type StorageClient, StorageClientError } from "../packages/client/src/index.ts";
import { ERROR_CODES } from "../src/errors.ts";
import { RateLimiter } from "../src/security/rate-limit.ts";
import { startGrpcServer } from "../src/transports/grpc/server.ts";
import { createTestApp, type TestApp } from "./support/app.ts";
import { collect, sha256Of } from "./support/data.ts";
import { failure, type GrpcHarness, issueToken, NO_RETRY, startGrpc } from "./support/grpc.ts";

/** Runs `fn` with at most `limit` calls in flight. */
async function bounded<T>(items: T[], limit: number, fn: (item: T) => Promise<unknown>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: limit }, async () => {
      while (next < items.length) await fn(items[next++] as T);
    }),
  );
}

describe("gRPC API (TypeScript client)", () => {
  let h: GrpcHarness;
  let app: TestApp;
  let client: StorageClient;
  let bucket: string;
  let logLines: Record<string, unknown>[];
  /** The admin key as call metadata, for calls made through the generated client directly. */
  const authorized = () => {
    const metadata = new Metadata();
    metadata.set("authorization", `Bearer ${h.adminToken}`);
    return metadata;
  };

  beforeAll(async () => {
    h = await startGrpc({ env: { RATE_LIMIT_ENABLED: "false" } });
    ({ app, client } = h);
    logLines = h.logs.lines;
    bucket = app.config.buckets.temp;
  });
  afterAll(async () => {
    await h?.close();
    h?.logs.expectNoSecrets([...h.secrets, inject("minio").secretKey]);
  });

  it("pages through 2,500 keys with page tokens, disjoint and complete", async () => {
    const keys = Array.from({ length: 2500 }, (_, i) => `many/${String(i).padStart(4, "0")}.txt`);
    // Stored through the core rather than 2,500 gRPC uploads (each audited): listing is what is tested here.
    await bounded(keys, 16, (objectName) =>
      app.service.upload({ bucket, key: objectName, body: Readable.from([Buffer.from(objectName)]) }),
    );
    for (const pageSize of [1000, 300]) {
      const seen: string[] = [];
      let pageToken: string | undefined;
      let pages = 0;
      do {
        const page = await client.list({ bucket, prefix: "many/", recursive: true, pageSize, pageToken });
        expect(page.files.length).toBeLessThanOrEqual(pageSize);
        seen.push(...page.files.map((f) => f.objectName));
        pageToken = page.nextPageToken;
        pages++;
      } while (pageToken);
      expect(pages).toBe(Math.ceil(2500 / pageSize));
      expect(seen).toEqual(keys);
    }
    const first = (await client.list({ bucket, prefix: "many/0000", recursive: true })).files[0];
    expect(first).toMatchObject({
      bucket,
      objectName: "many/0000.txt",
      size: 13,
      sha256: sha256Of("many/0000.txt"),
    });
    expect(first?.lastModified.getTime()).toBeGreaterThan(Date.now() - 10 * 60_000);
    let all = 0;
    for await (const _ of client.listAll({ bucket, prefix: "many/", recursive: true, pageSize: 1000 })) all++;
    expect(all).toBe(2500);
    const level = await client.list({ bucket, prefix: "" });
    expect(level.prefixes).toContain("many/");
    expect(level.files.map((f) => f.objectName)).not.toContain("many/0000.txt");
  });

  it("presigns a PUT and a GET that plain HTTP can use", async () => {
    const put = await client.getUrl({
      bucket,
      objectName: "presigned/data.txt",
      method: "PUT",
      expiresInSeconds: 120,
    });
    expect(put.method).toBe("PUT");
    expect(put.expiresAt.getTime()).toBeGreaterThan(Date.now() + 100_000);
    const uploaded = await fetch(put.url, { method: "PUT", body: "sent around the service" });
    expect(uploaded.status).toBe(200);
    const get = await client.getUrl({ bucket, objectName: "presigned/data.txt" });
    expect(get.method).toBe("GET");
    const fetched = await fetch(get.url);
    expect(fetched.status).toBe(200);
    expect(await fetched.text()).toBe("sent around the service");
  });

  it("stats, copies across buckets and deletes", async () => {
    const other = app.config.buckets.backups; // versioned
    const stored = await client.upload("copy me", {
      bucket,
      objectName: "copy/src.txt",
      metadata: { k: "v" },
    });
    const stat = await client.stat({ bucket, objectName: "copy/src.txt" });
    expect(stat).toMatchObject({
      bucket,
      objectName: "copy/src.txt",
      size: 7,
      etag: stored.etag,
      metadata: { k: "v" },
    });
    const copied = await client.copy(
      { bucket, objectName: "copy/src.txt" },
      { bucket: other, objectName: "copy/dst.txt" },
    );
    expect(copied).toMatchObject({
      success: true,
      bucket: other,
      objectName: "copy/dst.txt",
      size: 7,
      sha256: sha256Of("copy me"),
    });
    expect(copied.versionId).not.toBe("null");
    const { stream } = await client.downloadStream({
      bucket: other,
      objectName: "copy/dst.txt",
      versionId: copied.versionId,
    });
    expect((await collect(stream)).toString()).toBe("copy me");

    const marker = await client.delete({ bucket: other, objectName: "copy/dst.txt" });
    expect(marker).toMatchObject({ success: true, deleteMarker: true });
    expect((await failure(client.stat({ bucket: other, objectName: "copy/dst.txt" }))).code).toBe(
      "NOT_FOUND",
    );
    // The copied version is still there by id, until deleted by id.
    expect(
      (await client.stat({ bucket: other, objectName: "copy/dst.txt", versionId: copied.versionId })).size,
    ).toBe(7);
    const gone = await client.delete({
      bucket: other,
      objectName: "copy/dst.txt",
      versionId: copied.versionId,
    });
    expect(gone).toMatchObject({ deleteMarker: false, versionId: copied.versionId });

    await client.delete({ bucket, objectName: "copy/src.txt" });
    expect((await failure(client.stat({ bucket, objectName: "copy/src.txt" }))).code).toBe("NOT_FOUND");
  });

  describe("errors from real bad calls", () => {
    const expectError = async (
      promise: Promise<unknown>,
      code: keyof typeof ERROR_CODES,
      grpcCode: status,
    ): Promise<StorageClientError> => {
      const err = await failure(promise);
      expect({ code: err.code, grpcCode: status[err.grpcCode] }).toEqual({
        code,
        grpcCode: status[grpcCode],
      });
      return err;
    };

    it("NOT_FOUND for a missing object, version or bucket", async () => {
      await expectError(client.stat({ bucket, objectName: "nope.txt" }), "NOT_FOUND", status.NOT_FOUND);
      await expectError(
        client.downloadStream({ bucket, objectName: "nope.txt" }),
        "NOT_FOUND",
        status.NOT_FOUND,
      );
      await expectError(
        client.upload("x", { bucket: "no-such-bucket-here", objectName: "a.txt" }),
        "NOT_FOUND",
        status.NOT_FOUND,
      );
      await expectError(client.delete({ bucket, objectName: "nope.txt" }), "NOT_FOUND", status.NOT_FOUND);
    });

    it("INVALID_ARGUMENT for bad names, page sizes and streams, with the field in the details", async () => {
      const err = await expectError(
        client.upload("x", { bucket, objectName: "../escape.txt" }),
        "INVALID_ARGUMENT",
        status.INVALID_ARGUMENT,
      );
      expect(err.details.field).toBeDefined();
      await expectError(
        client.stat({ bucket: "Bad_Bucket", objectName: "a" }),
        "INVALID_ARGUMENT",
        status.INVALID_ARGUMENT,
      );
      await expectError(client.list({ bucket, pageSize: 5000 }), "INVALID_ARGUMENT", status.INVALID_ARGUMENT);
      // A stream that starts with bytes instead of the header, straight through the generated client.
      const noHeader = new Promise((resolve, reject) => {
        const call = client.raw.uploadFile(authorized(), (e, r) => (e ? reject(e) : resolve(r)));
        call.write({ chunk: Buffer.from("bytes first") });
        call.end();
      }).catch((e: unknown) =>
        Promise.reject(
          new StorageClientError("INTERNAL", "", { grpcCode: (e as { code: status }).code, cause: e }),
        ),
      );
      const raw = await failure(noHeader);
      expect(status[raw.grpcCode]).toBe("INVALID_ARGUMENT");
    });

    it("INVALID_ARGUMENT for an extension or content the bucket refuses (UNSUPPORTED_TYPE)", async () => {
      const userData = app.config.buckets.userData;
      await expectError(
        client.upload("MZ", { bucket: userData, objectName: "tool.exe" }),
        "UNSUPPORTED_TYPE",
        status.INVALID_ARGUMENT,
      );
      await expectError(
        client.upload("not a pdf at all", { bucket: userData, objectName: "fake.pdf" }),
        "UNSUPPORTED_TYPE",
        status.INVALID_ARGUMENT,
      );
    });

    it("FAILED_PRECONDITION for a body that breaks its announced sha256 or size", async () => {
      await expectError(
        client.upload("hello", { bucket, objectName: "pre/a.txt", sha256: "0".repeat(64) }),
        "PRECONDITION_FAILED",
        status.FAILED_PRECONDITION,
      );
      await expectError(
        client.upload("hello", { bucket, objectName: "pre/b.txt", expectedSize: 6 }),
        "PRECONDITION_FAILED",
        status.FAILED_PRECONDITION,
      );
      await expectError(client.stat({ bucket, objectName: "pre/a.txt" }), "NOT_FOUND", status.NOT_FOUND);
    });

    it("RESOURCE_EXHAUSTED for an object over the size limit (TOO_LARGE)", async () => {
      const err = await expectError(
        client.upload("small really", { bucket, objectName: "big.bin", expectedSize: 3 * 1024 ** 3 }),
        "TOO_LARGE",
        status.RESOURCE_EXHAUSTED,
      );
      expect(err.details.limit).toBe(app.config.storage.maxFileSize);
    });

    it("OUT_OF_RANGE for a range outside the object", async () => {
      await client.upload("0123456789", { bucket, objectName: "range.txt" });
      await expectError(
        client.downloadStream({ bucket, objectName: "range.txt", range: { start: 10 } }),
        "RANGE_NOT_SATISFIABLE",
        status.OUT_OF_RANGE,
      );
      await expectError(
        client.downloadStream({ bucket, objectName: "range.txt", range: { start: 5, end: 2 } }),
        "RANGE_NOT_SATISFIABLE",
        status.OUT_OF_RANGE,
      );
    });

    it("DATA_LOSS when the stored bytes no longer match their sha256 (DATA_CORRUPTED)", async () => {
      await client.upload("original", { bucket, objectName: "rot.bin" });
      // The store's ETag still matches the row, but the row's sha256 no longer describes the bytes
      // (bit rot, as far as the service can tell). An overwrite with a new ETag would be re-derived.
      await app.db
        .updateTable("object_versions")
        .set({ sha256: "0".repeat(64) })
        .where("bucket", "=", bucket)
        .where("key", "=", "rot.bin")
        .execute();
      const download = await client.downloadStream({ bucket, objectName: "rot.bin" });
      const err = await expectError(collect(download.stream), "DATA_CORRUPTED", status.DATA_LOSS);
      expect(err.message).toMatch(/sha256/);
    });

    it("INVALID_ARGUMENT for an expiry beyond the maximum", async () => {
      await expectError(
        client.getUrl({ bucket, objectName: "x.txt", method: "PUT", expiresInSeconds: 10 * 86_400 }),
        "INVALID_ARGUMENT",
        status.INVALID_ARGUMENT,
      );
    });

    it("INTERNAL for a bug, with the detail logged and not sent", async () => {
      const original = app.service.stat;
      app.service.stat = async () => {
        throw new TypeError("secret internals: cannot read properties of undefined");
      };
      try {
        const err = await expectError(
          client.stat({ bucket, objectName: "a.txt" }, { requestId: "bug-1" }),
          "INTERNAL",
          status.INTERNAL,
        );
        expect(err.message).toBe(ERROR_CODES.INTERNAL);
        expect(err.message).not.toMatch(/secret/);
        const logged = logLines.find((l) => l.requestId === "bug-1" && l.msg === "grpc: internal error");
        expect(JSON.stringify(logged)).toMatch(/secret internals/);
      } finally {
        app.service.stat = original;
      }
    });
  });

  it("RESOURCE_EXHAUSTED with a retry hint once a key's budget is spent (RATE_LIMITED)", async () => {
    const limited = await startGrpcServer(
      { ...app, rateLimiter: new RateLimiter({ enabled: true, requests: 2, windowSeconds: 60 }) },
      { host: "127.0.0.1", port: 0 },
    );
    const limitedClient = connect(`127.0.0.1:${limited.port}`, { token: h.adminToken, retry: NO_RETRY });
    try {
      await failure(limitedClient.stat({ bucket, objectName: "nope.txt" })); // NOT_FOUND, but counted
      await failure(limitedClient.stat({ bucket, objectName: "nope.txt" }));
      const err = await failure(limitedClient.stat({ bucket, objectName: "nope.txt" }));
      expect({ code: err.code, grpcCode: status[err.grpcCode] }).toEqual({
        code: "RATE_LIMITED",
        grpcCode: "RESOURCE_EXHAUSTED",
      });
      expect(err.retryAfterSeconds).toBeGreaterThanOrEqual(1);
      expect(err.retryAfterSeconds).toBeLessThanOrEqual(60);
      // Streams are charged too, before the handler sees a byte.
      expect((await failure(limitedClient.upload("x", { bucket, objectName: "limited.txt" }))).code).toBe(
        "RATE_LIMITED",
      );
      expect((await failure(client.stat({ bucket, objectName: "limited.txt" }))).code).toBe("NOT_FOUND");
    } finally {
      limitedClient.close();
      await limited.close(1);
    }
  });

  it("logs one line per call with method, code, duration, bytes and request id, and counts calls", async () => {
    await client.upload(Buffer.alloc(1000, 1), { bucket, objectName: "logged.bin", requestId: "req-up-1" });
    const { stream } = await client.downloadStream({
      bucket,
      objectName: "logged.bin",
      requestId: "req-down-1",
    });
    await collect(stream);
    await failure(client.stat({ bucket, objectName: "missing.bin" }, { requestId: "req-stat-1" }));
    const lines = (id: string) => logLines.filter((l) => l.msg === "grpc call" && l.requestId === id);
    expect(lines("req-up-1")).toEqual([
      expect.objectContaining({
        method: "/lumenslate.storage.v1.StorageService/UploadFile",
        code: "OK",
        bytesIn: 1000,
        bytesOut: 0,
        durationMs: expect.any(Number),
      }),
    ]);
    expect(lines("req-down-1")).toEqual([
      expect.objectContaining({ code: "OK", bytesIn: 0, bytesOut: 1000 }),
    ]);
    expect(lines("req-stat-1")).toEqual([
      expect.objectContaining({ code: "NOT_FOUND", errorCode: "NOT_FOUND" }),
    ]);
    // A made-up id when the caller sends none, echoed back in the response headers.
    const echoed = await new Promise<string | undefined>((resolve, reject) => {
      const call = client.raw.statFile({ bucket, objectName: "logged.bin" }, authorized(), (err) =>
        err ? reject(err) : undefined,
      );
      call.on("metadata", (metadata) => resolve(metadata.get("x-request-id")[0] as string | undefined));
    });
    expect(echoed).toMatch(/^[0-9a-f-]{36}$/);

    const metrics = await app.metrics.registry.getMetricsAsJSON();
    const requests = metrics.find((m) => m.name === "lumenslate_storage_grpc_requests_total");
    expect(requests?.values).toContainEqual(
      expect.objectContaining({
        labels: { method: "/lumenslate.storage.v1.StorageService/UploadFile", code: "OK" },
      }),
    );
    expect(metrics.map((m) => m.name)).toContain("lumenslate_storage_grpc_request_duration_seconds");
  });
});

describe("gRPC API on the local backend", () => {
  it("UNIMPLEMENTED for presigned URLs, which need S3 (UNSUPPORTED_OPERATION)", async () => {
    const app = await createTestApp("local");
    const server = await startGrpcServer(app, { host: "127.0.0.1", port: 0 });
    const client = connect(`127.0.0.1:${server.port}`, {
      token: await issueToken(app, "local-admin", ["*:admin"]),
    });
    try {
      const err = await failure(
        client.getUrl({ bucket: app.config.buckets.temp, objectName: "a.txt", method: "PUT" }),
      );
      expect({ code: err.code, grpcCode: status[err.grpcCode] }).toEqual({
        code: "UNSUPPORTED_OPERATION",
        grpcCode: "UNIMPLEMENTED",
      });
    } finally {
      client.close();
      await server.close(1);
      await app.dispose();
    }
  });
});
