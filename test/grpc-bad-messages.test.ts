import type { MethodDefinition } from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { storageProto } from "../src/transports/grpc/definition.ts";
import { type GrpcHarness, startGrpc } from "./support/grpc.ts";
import { rawCall, storageSnapshot } from "./support/grpc-raw.ts";

/**
 * Request bytes no well-behaved client sends, over a real socket: messages that are not protobuf
 * at all, and string fields that are not UTF-8 (which protobufjs would quietly decode to U+FFFD
 * and the server would store). Both are INVALID_ARGUMENT, never INTERNAL, and write nothing.
 */

type Method = MethodDefinition<unknown, unknown>;
const methods = storageProto().lumenslate.storage.v1.StorageService.service as unknown as Record<
  string,
  Method
>;
const method = (name: string) => methods[name] as Method;

/** `message` encoded by `name`'s serializer, with the bytes of `@@` (in some string) replaced by `bytes`. */
function withBytes(name: string, message: object, bytes: number[]): Buffer {
  const encoded = method(name).requestSerialize(message);
  const at = encoded.indexOf("@@");
  if (at < 0) throw new Error("the message has no @@ to replace");
  Buffer.from(bytes).copy(encoded, at);
  return encoded;
}

const NOT_UTF8 = [0xff, 0xfe];
/**
 * Field 15 with wire type 7, which does not exist: no request type can decode it. (A string that
 * claims more bytes than follow would not do: protobufjs cuts it short without complaint.)
 */
const GARBAGE = Buffer.from([0x7f, 0x01, 0x02]);

describe("gRPC requests that are not valid messages", () => {
  let h: GrpcHarness;
  let bucket: string;
  let buckets: string[];

  beforeAll(async () => {
    h = await startGrpc({ env: { RATE_LIMIT_ENABLED: "false" } });
    bucket = h.app.config.buckets.temp;
    buckets = Object.values(h.app.config.buckets);
    await h.client.upload("kept", { bucket, objectName: "bad/kept.txt" });
  });
  afterAll(async () => {
    await h?.close();
    h?.logs.expectNoSecrets([...(h?.secrets ?? []), inject("minio").secretKey]);
  });

  const asAdmin = (requestId?: string) => ({ token: h.adminToken, ...(requestId ? { requestId } : {}) });
  const invalid = { code: "INVALID_ARGUMENT", errorCode: "INVALID_ARGUMENT" };
  const chunk = () => method("UploadFile").requestSerialize({ chunk: Buffer.from("some bytes") });
  const loggedCall = (requestId: string) =>
    h.logs.lines.find((l) => l.msg === "grpc call" && l.requestId === requestId);

  it("refuses an object name that is not UTF-8 on upload, and stores nothing", async () => {
    const before = await storageSnapshot(h.app, buckets);
    const header = withBytes("UploadFile", { header: { bucket, objectName: "bad/name-@@.txt" } }, NOT_UTF8);
    const outcome = await rawCall(h.address, method("UploadFile"), [header, chunk()], asAdmin());
    expect(outcome).toMatchObject(invalid);
    expect(outcome.details).toMatch(/header\.object_name.*not valid UTF-8/);
    expect(await storageSnapshot(h.app, buckets)).toBe(before);
    // The name a lenient decoder would have made of it was not stored either.
    await expect(h.app.service.stat(bucket, "bad/name-\uFFFD\uFFFD.txt")).rejects.toMatchObject({
      code: "NOT_FOUND",
    });
  });

  it("refuses bytes that are not UTF-8 in the bucket, prefix and copy target, writing nothing", async () => {
    const before = await storageSnapshot(h.app, buckets);
    const stat = withBytes("StatFile", { bucket: "tem@@", objectName: "bad/kept.txt" }, NOT_UTF8);
    const list = withBytes("ListFiles", { bucket, prefix: "bad/@@" }, NOT_UTF8);
    const copy = withBytes(
      "CopyFile",
      {
        sourceBucket: bucket,
        sourceObjectName: "bad/kept.txt",
        targetBucket: bucket,
        targetObjectName: "bad/@@",
      },
      NOT_UTF8,
    );
    for (const [name, message, field] of [
      ["StatFile", stat, "bucket"],
      ["ListFiles", list, "prefix"],
      ["CopyFile", copy, "target_object_name"],
    ] as const) {
      const outcome = await rawCall(h.address, method(name), [message], asAdmin());
      expect({ name, ...outcome }).toMatchObject({ name, ...invalid });
      expect(outcome.details).toContain(`'${field}'`);
    }
    expect(await storageSnapshot(h.app, buckets)).toBe(before);
  });

  it("answers a message that is not protobuf INVALID_ARGUMENT (not INTERNAL), logged as such", async () => {
    const before = await storageSnapshot(h.app, buckets);
    expect(await rawCall(h.address, method("StatFile"), [GARBAGE], asAdmin())).toMatchObject({
      ...invalid,
      details: expect.stringContaining("not a valid protobuf encoding"),
    });
    expect(await rawCall(h.address, method("DownloadFile"), [GARBAGE], asAdmin())).toMatchObject(invalid);
    // As the first message of an upload, and as a chunk after a good header: nothing is stored.
    expect(await rawCall(h.address, method("UploadFile"), [GARBAGE], asAdmin())).toMatchObject(invalid);
    const header = method("UploadFile").requestSerialize({
      header: { bucket, objectName: "bad/partial.txt" },
    });
    expect(
      await rawCall(h.address, method("UploadFile"), [header, chunk(), GARBAGE, chunk()], asAdmin()),
    ).toMatchObject(invalid);
    expect(await storageSnapshot(h.app, buckets)).toBe(before);

    // The call's log line says what the caller got (grpc-js's own INTERNAL was logged as CANCELLED).
    await rawCall(h.address, method("StatFile"), [GARBAGE], asAdmin("garbage-stat"));
    expect(loggedCall("garbage-stat")).toMatchObject(invalid);
  });

  it("still asks for a key first: garbage from a caller without one is UNAUTHENTICATED", async () => {
    expect(await rawCall(h.address, method("StatFile"), [GARBAGE])).toMatchObject({
      code: "UNAUTHENTICATED",
      errorCode: "UNAUTHENTICATED",
    });
  });

  it("answers garbage to the public health service INVALID_ARGUMENT too", async () => {
    const check = h.server.methods.find((m) => m.path === "/grpc.health.v1.Health/Check")?.definition;
    expect(check).toBeDefined();
    expect(await rawCall(h.address, check as Method, [GARBAGE])).toMatchObject(invalid);
  });
});
