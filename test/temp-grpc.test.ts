import { credentials, Metadata, type ServiceError, status } from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { storageProto } from "../src/transports/grpc/definition.ts";
import type { SweepTempResponse__Output } from "../src/transports/grpc/generated/lumenslate/storage/v1/SweepTempResponse.ts";
import type { TempDownloadHeader__Output } from "../src/transports/grpc/generated/lumenslate/storage/v1/TempDownloadHeader.ts";
import type { TempStorageServiceClient } from "../src/transports/grpc/generated/lumenslate/storage/v1/TempStorageService.ts";
import type { TempUploadHeader } from "../src/transports/grpc/generated/lumenslate/storage/v1/TempUploadHeader.ts";
import type { UploadTempFileResponse__Output } from "../src/transports/grpc/generated/lumenslate/storage/v1/UploadTempFileResponse.ts";
import { ERROR_CODE_KEY, ERROR_DETAILS_KEY } from "../src/transports/grpc/status.ts";
import { failure, type GrpcHarness, startGrpc } from "./support/grpc.ts";
import { untilPassed } from "./support/temp.ts";

/**
 * TempStorageService over real sockets on the shared MinIO: a 2 s object is served at once and
 * refused after its expiry, by DownloadTempFile and by StorageService (DownloadFile, StatFile);
 * bad TTLs are INVALID_ARGUMENT; SweepTemp deletes expired objects (its dry run nothing); a key
 * without admin on the temp bucket may not sweep.
 */

let h: GrpcHarness;
let client: TempStorageServiceClient;

const auth = (token: string) => {
  const metadata = new Metadata();
  metadata.set("authorization", `Bearer ${token}`);
  return metadata;
};

const seconds = (t: { seconds: number | string; nanos: number } | null) =>
  new Date(Number(t?.seconds ?? 0) * 1000 + (t?.nanos ?? 0) / 1e6);

function upload(header: TempUploadHeader, body: Buffer, token = h.adminToken) {
  return new Promise<UploadTempFileResponse__Output>((resolve, reject) => {
    const call = client.UploadTempFile(auth(token), (err, res) =>
      err ? reject(err) : resolve(res as never),
    );
    call.write({ header });
    call.write({ chunk: body });
    call.end();
  });
}

function download(objectName: string) {
  return new Promise<{ header: TempDownloadHeader__Output; body: Buffer }>((resolve, reject) => {
    const stream = client.DownloadTempFile({ objectName }, auth(h.adminToken));
    let header: TempDownloadHeader__Output | undefined;
    const chunks: Buffer[] = [];
    stream.on("data", (m: { payload?: string; header?: TempDownloadHeader__Output; chunk?: Buffer }) => {
      if (m.payload === "header") header = m.header;
      else if (m.chunk) chunks.push(m.chunk);
    });
    stream.on("error", reject);
    stream.on("end", () =>
      resolve({ header: header as TempDownloadHeader__Output, body: Buffer.concat(chunks) }),
    );
  });
}

const sweep = (dryRun: boolean, token = h.adminToken) =>
  new Promise<SweepTempResponse__Output>((resolve, reject) =>
    client.SweepTemp({ dryRun }, auth(token), (err, res) => (err ? reject(err) : resolve(res as never))),
  );

async function refusal(promise: Promise<unknown>) {
  const err = (await promise.then(
    () => undefined,
    (e: unknown) => e,
  )) as ServiceError | undefined;
  expect(err, "the call succeeded").toBeDefined();
  const e = err as ServiceError;
  return {
    code: status[e.code],
    errorCode: e.metadata.get(ERROR_CODE_KEY)[0],
    details: JSON.parse(String(e.metadata.get(ERROR_DETAILS_KEY)[0] ?? "{}")) as Record<string, unknown>,
    message: e.details,
  };
}

beforeAll(async () => {
  h = await startGrpc({ env: { RATE_LIMIT_ENABLED: "false" } });
  const { TempStorageService } = storageProto().lumenslate.storage.v1;
  client = new TempStorageService(h.address, credentials.createInsecure());
});
afterAll(async () => {
  client?.close();
  await h?.close();
});

describe("TempStorageService", () => {
  it("serves a 2 s object at once and refuses it after its expiry, here and through StorageService", async () => {
    const bucket = h.app.config.buckets.temp;
    const body = Buffer.from("short-lived bytes");
    const stored = await upload({ objectName: "grpc/short.bin", ttlSeconds: 2 }, body);
    const expiresAt = seconds(stored.expiresAt);
    expect(stored.file).toMatchObject({ bucket, objectName: "grpc/short.bin", size: body.length });
    expect(stored.file?.metadata["expires-at"]).toBe(expiresAt.toISOString());

    const fresh = await download("grpc/short.bin");
    expect(fresh.body).toEqual(body);
    expect(seconds(fresh.header.expiresAt)).toEqual(expiresAt);
    expect(await h.client.stat({ bucket, objectName: "grpc/short.bin" })).toMatchObject({
      size: body.length,
    });

    await untilPassed(expiresAt);

    const refused = await refusal(download("grpc/short.bin"));
    expect(refused).toMatchObject({ code: "NOT_FOUND", errorCode: "NOT_FOUND" });
    expect(refused.message).toMatch(/expired at/);
    expect(refused.details).toMatchObject({ expired: expiresAt.toISOString() });
    expect((await failure(h.client.stat({ bucket, objectName: "grpc/short.bin" }))).code).toBe("NOT_FOUND");
    expect((await failure(h.client.downloadStream({ bucket, objectName: "grpc/short.bin" }))).code).toBe(
      "NOT_FOUND",
    );
  });

  it("refuses a TTL beyond the maximum, or with an expiry instant too, and stores nothing", async () => {
    const max = h.app.config.temp.maxTtlSeconds;
    const soon = { seconds: Math.floor(Date.now() / 1000) + 60, nanos: 0 };
    for (const header of [
      { objectName: "grpc/refused.bin", ttlSeconds: max + 1 },
      { objectName: "grpc/refused.bin", ttlSeconds: 10, expiresAt: soon },
    ]) {
      expect(await refusal(upload(header, Buffer.from("x")))).toMatchObject({
        code: "INVALID_ARGUMENT",
        errorCode: "INVALID_ARGUMENT",
      });
    }
    expect(
      (await failure(h.client.stat({ bucket: h.app.config.buckets.temp, objectName: "grpc/refused.bin" })))
        .code,
    ).toBe("NOT_FOUND");
  });

  it("sweeps expired objects and keeps live ones; the dry run deletes nothing", async () => {
    const old = await upload({ objectName: "grpc/old.bin", ttlSeconds: 1 }, Buffer.from("old"));
    await upload({ objectName: "grpc/live.bin", ttlSeconds: 3600 }, Buffer.from("live"));
    await untilPassed(seconds(old.expiresAt));
    const bucket = h.app.config.buckets.temp;

    const dry = await sweep(true);
    expect(dry).toMatchObject({ bucket, dryRun: true, failed: 0 });
    expect(dry.deleted).toBeGreaterThanOrEqual(1);
    expect(await h.app.index.find(bucket, "grpc/old.bin")).toBeDefined();

    const real = await sweep(false);
    expect(real).toMatchObject({ dryRun: false, deleted: dry.deleted, bytes: dry.bytes, failed: 0 });
    expect(await h.app.index.find(bucket, "grpc/old.bin")).toBeUndefined();
    expect((await download("grpc/live.bin")).body.toString()).toBe("live");
  });

  it("refuses a sweep to a key without admin on the temp bucket", async () => {
    const token = await h.issue("temp-writer", [`${h.app.config.buckets.temp}:read,write`]);
    expect(await refusal(sweep(false, token))).toMatchObject({ code: "PERMISSION_DENIED" });
  });
});
