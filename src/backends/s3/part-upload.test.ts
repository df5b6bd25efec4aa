import { randomBytes } from "node:crypto";
import type { S3Client } from "@aws-sdk/client-s3";
import { describe, expect, it } from "vitest";
import { PartBuffers } from "./part-buffers.ts";
import { type PartedPut, putInParts } from "./part-upload.ts";

interface Sent {
  name: string;
  input: Record<string, unknown>;
  /** The body's bytes as they were when the request settled (a reused buffer would show here). */
  body?: Buffer;
  /** Whether the request could be aborted. */
  abortable: boolean;
}

/**
 * A stand-in for the S3 client (unit test only; the integration suites run this against MinIO):
 * records every command, answers after a tick, and copies a part's body only when the request
 * settles, so a buffer reused too early shows up as wrong bytes.
 */
function fakeS3(behaviour: { failPart?: number; failComplete?: Error; partDelayMs?: number } = {}) {
  const sent: Sent[] = [];
  let inFlight = 0;
  let maxInFlight = 0;
  const client = {
    async send(
      command: { constructor: { name: string }; input: Record<string, unknown> },
      options?: { abortSignal?: AbortSignal },
    ) {
      const name = command.constructor.name.replace(/Command$/, "");
      const record: Sent = { name, input: command.input, abortable: options?.abortSignal !== undefined };
      sent.push(record);
      if (name === "UploadPart") {
        inFlight++;
        maxInFlight = Math.max(maxInFlight, inFlight);
        await new Promise((resolve) => setTimeout(resolve, behaviour.partDelayMs ?? 1));
        inFlight--;
        record.body = Buffer.from(command.input.Body as Buffer);
        if (command.input.PartNumber === behaviour.failPart) throw new Error("part refused");
        return { ETag: `"etag-${command.input.PartNumber}"` };
      }
      await new Promise((resolve) => setImmediate(resolve));
      if (name === "PutObject") {
        record.body = Buffer.from(command.input.Body as Buffer);
        return { ETag: '"put"', VersionId: "v-put" };
      }
      if (name === "CreateMultipartUpload") return { UploadId: "u-1" };
      if (name === "CompleteMultipartUpload") {
        if (behaviour.failComplete) throw behaviour.failComplete;
        return { ETag: '"complete"', VersionId: "v-complete" };
      }
      return {};
    },
  };
  return { client: client as unknown as S3Client, sent, maxInFlight: () => maxInFlight };
}

const put: PartedPut = {
  bucket: "b",
  key: "k",
  create: { ContentType: "application/octet-stream", Metadata: { a: "1" } },
  every: { SSECustomerAlgorithm: "AES256", SSECustomerKey: "key", SSECustomerKeyMD5: "md5" },
  visible: { IfNoneMatch: "*" },
};

async function* chunks(data: Buffer, sizes: number[]) {
  let at = 0;
  for (let i = 0; at < data.length; i++) {
    const n = sizes[i % sizes.length] as number;
    yield data.subarray(at, at + n);
    at += n;
  }
}

const names = (sent: Sent[]) => sent.map((s) => s.name);
const partBodies = (sent: Sent[]) =>
  sent
    .filter((s) => s.name === "UploadPart")
    .sort((a, b) => (a.input.PartNumber as number) - (b.input.PartNumber as number))
    .map((s) => s.body as Buffer);

describe("putInParts", () => {
  it("sends a body of one part or less as one conditional PutObject, without taking a part buffer", async () => {
    const s3 = fakeS3();
    const buffers = new PartBuffers(1000, 4);
    const data = randomBytes(1000);
    const progress: number[] = [];
    const out = await putInParts(s3.client, chunks(data, [300]), put, {
      buffers,
      queueSize: 2,
      onProgress: (n) => progress.push(n),
    });
    expect(out).toEqual({ ETag: '"put"', VersionId: "v-put" });
    expect(names(s3.sent)).toEqual(["PutObject"]);
    expect(s3.sent[0]?.input).toMatchObject({
      ...put.create,
      ...put.every,
      ...put.visible,
      ContentLength: 1000,
    });
    expect(s3.sent[0]?.body).toEqual(data);
    expect(progress).toEqual([1000]);
    expect(buffers.spare).toBe(0);
  });

  it("sends an empty body as an empty PutObject", async () => {
    const s3 = fakeS3();
    await putInParts(s3.client, chunks(Buffer.alloc(0), [1]), put, {
      buffers: new PartBuffers(10, 1),
      queueSize: 1,
    });
    expect(names(s3.sent)).toEqual(["PutObject"]);
    expect(s3.sent[0]?.body?.length).toBe(0);
  });

  it.each([
    ["odd chunks", [333, 17, 1024]],
    ["one chunk larger than three parts", [3500]],
    ["one-byte chunks", [1]],
  ])("splits a larger body into parts, bytes in order (%s)", async (_label, sizes) => {
    const s3 = fakeS3();
    const buffers = new PartBuffers(1000, 4);
    const data = randomBytes(3500);
    const out = await putInParts(s3.client, chunks(data, sizes), put, { buffers, queueSize: 2 });
    expect(out).toEqual({ ETag: '"complete"', VersionId: "v-complete" });
    expect(names(s3.sent).filter((n) => n !== "UploadPart")).toEqual([
      "CreateMultipartUpload",
      "CompleteMultipartUpload",
    ]);
    const bodies = partBodies(s3.sent);
    expect(bodies.map((b) => b.length)).toEqual([1000, 1000, 1000, 500]);
    expect(Buffer.concat(bodies)).toEqual(data);
    const create = s3.sent.find((s) => s.name === "CreateMultipartUpload");
    expect(create?.input).toMatchObject({ ...put.create, ...put.every });
    expect(create?.input.IfNoneMatch).toBeUndefined();
    for (const part of s3.sent.filter((s) => s.name === "UploadPart")) {
      expect(part.input).toMatchObject({ ...put.every, UploadId: "u-1" });
      expect(part.input.IfNoneMatch).toBeUndefined();
    }
    const complete = s3.sent.find((s) => s.name === "CompleteMultipartUpload");
    expect(complete?.input).toMatchObject({
      ...put.every,
      ...put.visible,
      UploadId: "u-1",
      MultipartUpload: { Parts: [1, 2, 3, 4].map((n) => ({ PartNumber: n, ETag: `"etag-${n}"` })) },
    });
    // Every pooled buffer came back, once.
    expect(buffers.spare).toBeGreaterThan(0);
    expect(buffers.spare).toBeLessThanOrEqual(3);
  });

  it("keeps a body of exactly one part in one PutObject, and of exactly two parts in two parts", async () => {
    const one = fakeS3();
    await putInParts(one.client, chunks(randomBytes(1000), [100]), put, {
      buffers: new PartBuffers(1000, 2),
      queueSize: 2,
    });
    expect(names(one.sent)).toEqual(["PutObject"]);
    const two = fakeS3();
    const data = randomBytes(2000);
    await putInParts(two.client, chunks(data, [100]), put, {
      buffers: new PartBuffers(1000, 2),
      queueSize: 2,
    });
    expect(Buffer.concat(partBodies(two.sent))).toEqual(data);
    expect(partBodies(two.sent).map((b) => b.length)).toEqual([1000, 1000]);
  });

  it("holds at most queueSize parts (in flight and filling), and reuses buffers only once their part settled", async () => {
    const s3 = fakeS3({ partDelayMs: 5 });
    let taken = 0;
    let held = 0;
    let mostHeld = 0;
    const buffers = new PartBuffers(100, 8);
    const take = buffers.take.bind(buffers);
    const give = buffers.give.bind(buffers);
    buffers.take = () => {
      taken++;
      mostHeld = Math.max(mostHeld, ++held);
      return take();
    };
    buffers.give = (b) => {
      held--;
      give(b);
    };
    const data = randomBytes(100 * 12 + 7);
    await putInParts(s3.client, chunks(data, [64]), put, { buffers, queueSize: 3 });
    // Part 1 is the body's own gathered chunks; parts 2..13 come from the pool, all given back.
    expect(taken).toBe(12);
    expect(held).toBe(0);
    expect(mostHeld).toBeLessThanOrEqual(3);
    expect(s3.maxInFlight()).toBeLessThanOrEqual(3);
    expect(s3.maxInFlight()).toBeGreaterThanOrEqual(2);
    // The fake copies each body as its request settles: a buffer refilled before that shows here.
    expect(Buffer.concat(partBodies(s3.sent))).toEqual(data);
  });

  it("aborts the multipart upload when a part fails, and sends no completion", async () => {
    const s3 = fakeS3({ failPart: 2 });
    const buffers = new PartBuffers(100, 8);
    await expect(
      putInParts(s3.client, chunks(randomBytes(1000), [50]), put, { buffers, queueSize: 2 }),
    ).rejects.toThrow("part refused");
    expect(names(s3.sent)).toContain("AbortMultipartUpload");
    expect(names(s3.sent)).not.toContain("CompleteMultipartUpload");
    expect(s3.sent.find((s) => s.name === "AbortMultipartUpload")?.input).toEqual({
      Bucket: "b",
      Key: "k",
      UploadId: "u-1",
    });
  });

  it("aborts the multipart upload when the body fails part-way", async () => {
    const s3 = fakeS3();
    async function* failing() {
      yield randomBytes(150);
      yield randomBytes(150);
      throw new Error("client went away");
    }
    await expect(
      putInParts(s3.client, failing(), put, { buffers: new PartBuffers(100, 4), queueSize: 2 }),
    ).rejects.toThrow("client went away");
    expect(names(s3.sent)).toEqual(expect.arrayContaining(["CreateMultipartUpload", "AbortMultipartUpload"]));
    expect(names(s3.sent)).not.toContain("CompleteMultipartUpload");
  });

  it("aborts the multipart upload when the completion is refused (a failed condition)", async () => {
    const refused = Object.assign(
      new Error("At least one of the pre-conditions you specified did not hold"),
      {
        name: "PreconditionFailed",
      },
    );
    const s3 = fakeS3({ failComplete: refused });
    await expect(
      putInParts(s3.client, chunks(randomBytes(250), [50]), put, {
        buffers: new PartBuffers(100, 4),
        queueSize: 2,
      }),
    ).rejects.toBe(refused);
    expect(names(s3.sent).slice(-2)).toEqual(["CompleteMultipartUpload", "AbortMultipartUpload"]);
  });

  it("refuses, before sending it, a part past S3's 10,000", async () => {
    const s3 = fakeS3({ partDelayMs: 0 });
    await expect(
      putInParts(s3.client, chunks(Buffer.alloc(10_001 * 2 + 1), [4096]), put, {
        buffers: new PartBuffers(2, 64),
        queueSize: 64,
      }),
    ).rejects.toMatchObject({ code: "TOO_LARGE" });
    expect(s3.sent.filter((s) => s.name === "UploadPart")).toHaveLength(10_000);
    expect(names(s3.sent)).toContain("AbortMultipartUpload");
  });
});

describe("putInParts and a caller who gives up", () => {
  it("aborts the parts in flight, never the request that makes the object visible", async () => {
    const small = fakeS3();
    const controller = new AbortController();
    const putting = putInParts(small.client, chunks(randomBytes(100), [100]), put, {
      buffers: new PartBuffers(1000, 2),
      queueSize: 2,
      signal: controller.signal,
    });
    await new Promise((resolve) => setImmediate(resolve));
    controller.abort();
    // The PutObject may have committed: it answers, and the caller (who gave up) takes it back.
    await expect(putting).resolves.toEqual({ ETag: '"put"', VersionId: "v-put" });
    expect(small.sent.map((s) => [s.name, s.abortable])).toEqual([["PutObject", false]]);

    const large = fakeS3();
    await putInParts(large.client, chunks(randomBytes(350), [50]), put, {
      buffers: new PartBuffers(100, 4),
      queueSize: 2,
    });
    for (const sent of large.sent)
      expect([sent.name, sent.abortable]).toEqual([sent.name, sent.name === "UploadPart"]);
  });
});

describe("PartBuffers", () => {
  it("hands back given buffers, keeps at most maxSpare, and drops spares after a quiet spell", async () => {
    const buffers = new PartBuffers(16, 2, 20);
    const [a, b, c] = [buffers.take(), buffers.take(), buffers.take()];
    buffers.give(a);
    buffers.give(b);
    buffers.give(c);
    expect(buffers.spare).toBe(2);
    expect(buffers.take()).toBe(b);
    buffers.give(Buffer.alloc(8)); // not one of ours: wrong size
    expect(buffers.spare).toBe(1);
    await new Promise((resolve) => setTimeout(resolve, 60));
    expect(buffers.spare).toBe(0);
  });
});
