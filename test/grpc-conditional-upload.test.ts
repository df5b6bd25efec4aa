import { Metadata, type ServiceError, status } from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { UploadFileResponse__Output } from "../src/transports/grpc/generated/lumenslate/storage/v1/UploadFileResponse.ts";
import { collect } from "./support/data.ts";
import { type GrpcHarness, keyIdOf, startGrpc } from "./support/grpc.ts";

/** UploadFile takes the HTTP conditions as call metadata: `if-none-match: *` and `if-match: <etag>`. */
describe("gRPC UploadFile with a condition in metadata", () => {
  let h: GrpcHarness;
  let bucket: string;

  beforeAll(async () => {
    h = await startGrpc({ env: { RATE_LIMIT_ENABLED: "false" } });
    bucket = h.app.config.buckets.temp;
  });
  afterAll(async () => {
    await h?.close();
  });

  /** One UploadFile call through the generated client; resolves with the response or the ServiceError. */
  const upload = (key: string, data: string, condition: Record<string, string>) =>
    new Promise<UploadFileResponse__Output | ServiceError>((resolve) => {
      const metadata = new Metadata();
      metadata.set("authorization", `Bearer ${h.adminToken}`);
      for (const [name, value] of Object.entries(condition)) metadata.set(name, value);
      const call = h.client.raw.uploadFile(metadata, (err, res) =>
        resolve(err ?? (res as UploadFileResponse__Output)),
      );
      call.write({ header: { bucket, objectName: key } });
      call.write({ chunk: Buffer.from(data) });
      call.end();
    });
  const content = async (key: string) =>
    (await collect((await h.app.service.download(bucket, key)).body)).toString();
  const grpcCode = (result: unknown) => (result as ServiceError).code;

  it("creates if absent once, swaps on the current ETag, and refuses the rest with FAILED_PRECONDITION", async () => {
    const key = "cond/grpc.txt";
    const created = await upload(key, "one", { "if-none-match": "*" });
    expect(grpcCode(created)).toBeUndefined();
    expect(grpcCode(await upload(key, "two", { "if-none-match": "*" }))).toBe(status.FAILED_PRECONDITION);
    expect(await content(key)).toBe("one");

    const etag = (await h.app.service.stat(bucket, key)).etag;
    expect(grpcCode(await upload(key, "two", { "if-match": etag }))).toBeUndefined();
    expect(await content(key)).toBe("two");
    expect(grpcCode(await upload(key, "three", { "if-match": etag }))).toBe(status.FAILED_PRECONDITION);
    expect(await content(key)).toBe("two");

    const records = (await h.app.security.audit.query({ keyId: keyIdOf(h.adminToken), bucket }))
      .filter((r) => r.key === key)
      .sort((a, b) => a.id - b.id);
    expect(records.map((r) => [r.result, r.details])).toEqual([
      ["OK", { condition: "if-none-match" }],
      ["PRECONDITION_FAILED", { condition: "if-none-match" }],
      ["OK", { condition: "if-match" }],
      ["PRECONDITION_FAILED", { condition: "if-match" }],
    ]);
  });

  it("refuses an unsupported condition with INVALID_ARGUMENT and stores nothing", async () => {
    expect(grpcCode(await upload("cond/grpc-bad.txt", "x", { "if-none-match": '"abc"' }))).toBe(
      status.INVALID_ARGUMENT,
    );
    await expect(h.app.service.stat(bucket, "cond/grpc-bad.txt")).rejects.toMatchObject({
      code: "NOT_FOUND",
    });
  });
});
