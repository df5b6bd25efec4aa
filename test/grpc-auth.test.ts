import {
  type Client,
  credentials,
  makeClientConstructor,
  type ServiceDefinition,
  type ServiceError,
  status,
} from "@grpc/grpc-js";
import { service as healthService } from "grpc-health-check";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { connect, type StorageClient } from "../packages/client/src/index.ts";
import type { AuditRecord } from "../src/security/index.ts";
import { RateLimiter } from "../src/security/rate-limit.ts";
import { startGrpcServer } from "../src/transports/grpc/server.ts";
import { collect } from "./support/data.ts";
import { failure, type GrpcHarness, keyIdOf, NO_RETRY, startGrpc, unknownToken } from "./support/grpc.ts";

/**
 * gRPC authentication, audit and rate limits beyond the matrix (test/auth-matrix-grpc.test.ts):
 * refusal before any message is read, one audit record per mutating call, budgets per key and per
 * address, health without a key, AUTH_DISABLED, and no secret in any log line.
 */

describe("gRPC authentication and audit", () => {
  let h: GrpcHarness;
  let bucket: string;
  /** A key with every action on the temp bucket only. */
  let token: string;

  // The index may be a PostgreSQL server shared with earlier runs: look only at this run's records.
  const since = new Date(Date.now() - 1_000);
  beforeAll(async () => {
    h = await startGrpc({ env: { RATE_LIMIT_ENABLED: "false" } });
    bucket = h.app.config.buckets.temp;
    token = await h.issue("auth-suite", [`${bucket}:*`]);
  });
  afterAll(async () => {
    await h?.close();
    h?.logs.expectNoSecrets([...h.secrets, inject("minio").secretKey]);
  });

  const recordsFor = async (requestId: string): Promise<AuditRecord[]> =>
    (await h.app.security.audit.query({ since, limit: 10_000 })).filter((r) => r.requestId === requestId);

  it("refuses a call without a valid key with UNAUTHENTICATED before reading a message, and audits it", async () => {
    const anonymous = h.connect({});
    const stranger = unknownToken();
    const unknown = h.connect({ token: stranger });
    const body = Buffer.alloc(2 * 1024 * 1024, 1);
    for (const [client, requestId] of [
      [anonymous, "anon-upload"],
      [unknown, "unknown-upload"],
    ] as const) {
      const err = await failure(client.upload(body, { bucket, objectName: "auth/refused.bin", requestId }));
      expect({ code: err.code, grpcCode: status[err.grpcCode] }).toEqual({
        code: "UNAUTHENTICATED",
        grpcCode: "UNAUTHENTICATED",
      });
      const line = h.logs.lines.find((l) => l.msg === "grpc call" && l.requestId === requestId);
      expect(line).toMatchObject({ code: "UNAUTHENTICATED", bytesIn: 0 });
    }
    await expect(h.app.service.stat(bucket, "auth/refused.bin")).rejects.toMatchObject({ code: "NOT_FOUND" });
    expect(await recordsFor("anon-upload")).toEqual([
      expect.objectContaining({
        keyId: null,
        protocol: "grpc",
        action: "upload",
        result: "UNAUTHENTICATED",
        bucket: null,
        clientAddress: "127.0.0.1",
      }),
    ]);
    // The id of the key presented (ids are public), never its secret.
    expect(await recordsFor("unknown-upload")).toEqual([
      expect.objectContaining({ keyId: keyIdOf(stranger), result: "UNAUTHENTICATED" }),
    ]);
    h.secrets.push(stranger);
  });

  it("leaves health and reflection open", async () => {
    const Health = makeClientConstructor(healthService as unknown as ServiceDefinition, "Health");
    const health = new Health(h.address, credentials.createInsecure()) as unknown as Client & {
      check(req: { service: string }, cb: (err: ServiceError | null, res?: { status: string }) => void): void;
    };
    try {
      const answer = await new Promise<string | undefined>((resolve, reject) =>
        health.check({ service: "" }, (err, res) => (err ? reject(err) : resolve(res?.status))),
      );
      expect(answer).toBe("SERVING");
    } finally {
      health.close();
    }
  });

  it("records one audit record per mutating call with its outcome; reads are not audited", async () => {
    const client = h.connect({ token });
    const other = h.app.config.buckets.backups;
    const stored = await client.upload("audit me", { bucket, objectName: "auth/a.txt", requestId: "au-up" });
    await failure(
      client.upload("hello", {
        bucket,
        objectName: "auth/b.txt",
        sha256: "0".repeat(64),
        requestId: "au-bad",
      }),
    );
    await client.stat({ bucket, objectName: "auth/a.txt" }, { requestId: "au-stat" });
    await collect(
      (await client.downloadStream({ bucket, objectName: "auth/a.txt", requestId: "au-get" })).stream,
    );
    await client.list({ bucket, prefix: "auth/", requestId: "au-list" });
    const copied = await client.copy(
      { bucket, objectName: "auth/a.txt" },
      { bucket, objectName: "auth/c.txt" },
      { requestId: "au-copy" },
    );
    await client.getUrl({ bucket, objectName: "auth/a.txt", method: "PUT", requestId: "au-url" });
    await client.delete({ bucket, objectName: "auth/c.txt" }, { requestId: "au-del" });
    // A copy out of its bucket: refused on the target, audited once (by the check, not again after).
    const refused = await failure(
      client.copy(
        { bucket, objectName: "auth/a.txt" },
        { bucket: other, objectName: "auth/a.txt" },
        { requestId: "au-copy-out" },
      ),
    );
    expect(refused.code).toBe("PERMISSION_DENIED");

    const who = {
      keyId: keyIdOf(token),
      service: "auth-suite",
      protocol: "grpc",
      clientAddress: "127.0.0.1",
    };
    expect(await recordsFor("au-up")).toEqual([
      expect.objectContaining({
        ...who,
        action: "upload",
        result: "OK",
        bucket,
        key: "auth/a.txt",
        versionId: stored.versionId,
        bytes: 8,
      }),
    ]);
    expect(await recordsFor("au-bad")).toEqual([
      expect.objectContaining({ ...who, action: "upload", result: "PRECONDITION_FAILED", key: "auth/b.txt" }),
    ]);
    for (const read of ["au-stat", "au-get", "au-list"]) expect(await recordsFor(read)).toEqual([]);
    expect(await recordsFor("au-copy")).toEqual([
      expect.objectContaining({
        ...who,
        action: "copy",
        result: "OK",
        key: "auth/c.txt",
        versionId: copied.versionId,
        bytes: 8,
        details: { sourceBucket: bucket, sourceKey: "auth/a.txt" },
      }),
    ]);
    expect(await recordsFor("au-url")).toEqual([
      expect.objectContaining({
        ...who,
        action: "presign",
        result: "OK",
        details: expect.objectContaining({ method: "PUT" }),
      }),
    ]);
    expect(await recordsFor("au-del")).toEqual([
      expect.objectContaining({ ...who, action: "delete", result: "OK", key: "auth/c.txt" }),
    ]);
    expect(await recordsFor("au-copy-out")).toEqual([
      expect.objectContaining({ ...who, action: "copy", result: "PERMISSION_DENIED", bucket: other }),
    ]);
  });

  it("never takes a request id that looks like an API key (it would be logged)", async () => {
    const err = await failure(h.client.stat({ bucket, objectName: "auth/none.txt" }, { requestId: token }));
    expect(err.code).toBe("NOT_FOUND");
    expect(err.requestId).toMatch(/^[0-9a-f-]{36}$/);
  });

  it("charges each key its own budget (or the key's own limit), and anonymous calls their address", async () => {
    const limited = await startGrpcServer(
      { ...h.app, rateLimiter: new RateLimiter({ enabled: true, requests: 3, windowSeconds: 60 }) },
      { host: "127.0.0.1", port: 0 },
    );
    const address = `127.0.0.1:${limited.port}`;
    const slow = connect(address, {
      token: await h.issue("auth-slow", [`${bucket}:read`], 1),
      retry: NO_RETRY,
    });
    const fast = connect(address, { token, retry: NO_RETRY });
    const anonymous = connect(address, { retry: NO_RETRY });
    try {
      const stat = (client: StorageClient) => failure(client.stat({ bucket, objectName: "auth/none.txt" }));
      expect((await stat(slow)).code).toBe("NOT_FOUND");
      const limitedErr = await stat(slow);
      expect({ code: limitedErr.code, grpcCode: status[limitedErr.grpcCode] }).toEqual({
        code: "RATE_LIMITED",
        grpcCode: "RESOURCE_EXHAUSTED",
      });
      expect(limitedErr.retryAfterSeconds).toBeGreaterThanOrEqual(1);
      // Another key from the same address has its own budget (3, the default here).
      for (let i = 0; i < 3; i++) expect((await stat(fast)).code).toBe("NOT_FOUND");
      expect((await stat(fast)).code).toBe("RATE_LIMITED");
      // No key: charged to the address, 3 UNAUTHENTICATED and then told to slow down.
      for (let i = 0; i < 3; i++) expect((await stat(anonymous)).code).toBe("UNAUTHENTICATED");
      expect((await stat(anonymous)).code).toBe("RATE_LIMITED");
    } finally {
      for (const client of [slow, fast, anonymous]) client.close();
      await limited.close(1);
    }
  });
});

describe("gRPC with AUTH_DISABLED=true", () => {
  let h: GrpcHarness;
  beforeAll(async () => {
    h = await startGrpc({ env: { RATE_LIMIT_ENABLED: "false", AUTH_DISABLED: "true" } });
  });
  afterAll(async () => {
    await h?.close();
  });

  it("allows every call without a key, and audits it as the open principal", async () => {
    const bucket = h.app.config.buckets.temp;
    const anonymous = h.connect({});
    // Only this run's records: a shared PostgreSQL holds earlier runs' rows too.
    const startedAt = new Date(Date.now() - 1_000);
    await anonymous.upload("open", { bucket, objectName: "open/a.txt", requestId: "open-up" });
    expect((await anonymous.stat({ bucket, objectName: "open/a.txt" })).size).toBe(4);
    const records = (await h.app.security.audit.query({ since: startedAt, limit: 1000 })).filter(
      (r) => r.requestId === "open-up",
    );
    expect(records).toEqual([expect.objectContaining({ keyId: "auth-disabled", result: "OK" })]);
    expect(h.app.security.warnings().join(" ")).toMatch(/AUTH_DISABLED/);
  });
});
