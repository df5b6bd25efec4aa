import { createHash } from "node:crypto";
import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import {
  Metadata,
  Server,
  ServerCredentials,
  type ServerReadableStream,
  type ServerUnaryCall,
  type ServerWritableStream,
  type sendUnaryData,
  status,
} from "@grpc/grpc-js";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { connect, type StorageClient } from "./client.ts";
import { storageProto } from "./definition.ts";
import type { ErrorCode } from "./errors.ts";
import { ERROR_CODE_KEY, REQUEST_ID_KEY, RETRY_AFTER_KEY } from "./generated/protocol.ts";
import type { RetryEvent } from "./retry.ts";

/**
 * The client's retries against a fake StorageService on loopback: each method fails with the
 * codes queued for it (as the service sends them: status plus `x-error-code` trailer), then
 * answers. The fake records what every attempt carried.
 */

interface Attempt {
  method: string;
  requestId: string | undefined;
  body?: string;
}

const attempts: Attempt[] = [];
const failures = new Map<string, { code: ErrorCode; retryAfter?: number; afterChunk?: boolean }[]>();
const OBJECT = "hello, retried";
const sha256 = createHash("sha256").update(OBJECT).digest("hex");

const GRPC_STATUS: Partial<Record<ErrorCode, status>> = {
  UNAVAILABLE: status.UNAVAILABLE,
  RATE_LIMITED: status.RESOURCE_EXHAUSTED,
  OVERLOADED: status.RESOURCE_EXHAUSTED,
  NOT_FOUND: status.NOT_FOUND,
};

/** The next queued failure of `method` as a grpc-js server error, or undefined to answer. */
function nextFailure(method: string, metadata: Metadata, body?: string) {
  const requestId = metadata.get(REQUEST_ID_KEY)[0];
  attempts.push({ method, requestId: typeof requestId === "string" ? requestId : undefined, body });
  const failure = failures.get(method)?.shift();
  if (!failure) return undefined;
  const trailers = new Metadata();
  trailers.set(ERROR_CODE_KEY, failure.code);
  if (failure.retryAfter !== undefined) trailers.set(RETRY_AFTER_KEY, String(failure.retryAfter));
  const error = {
    code: GRPC_STATUS[failure.code] ?? status.INTERNAL,
    details: `fake ${failure.code}`,
    metadata: trailers,
  };
  return { error, afterChunk: failure.afterChunk === true };
}

const fileInfo = { bucket: "b", objectName: "k", size: OBJECT.length, sha256 };

const service = {
  StatFile(call: ServerUnaryCall<unknown, unknown>, callback: sendUnaryData<unknown>) {
    const failure = nextFailure("StatFile", call.metadata);
    if (failure) callback(failure.error);
    else callback(null, { file: fileInfo });
  },
  UploadFile(call: ServerReadableStream<{ chunk?: Buffer }, unknown>, callback: sendUnaryData<unknown>) {
    const chunks: Buffer[] = [];
    call.on("data", (message: { chunk?: Buffer }) => {
      if (message.chunk) chunks.push(message.chunk);
    });
    call.on("end", () => {
      const body = Buffer.concat(chunks).toString();
      const failure = nextFailure("UploadFile", call.metadata, body);
      if (failure) callback(failure.error);
      else callback(null, { success: true, bucket: "b", objectName: "k", size: body.length });
    });
  },
  DownloadFile(call: ServerWritableStream<unknown, unknown>) {
    const failure = nextFailure("DownloadFile", call.metadata);
    if (failure && !failure.afterChunk) {
      call.emit("error", failure.error);
      return;
    }
    call.write({ header: { file: fileInfo, contentLength: OBJECT.length } });
    if (failure) {
      call.write({ chunk: Buffer.from(OBJECT.slice(0, 5)) });
      call.emit("error", failure.error);
      return;
    }
    call.write({ chunk: Buffer.from(OBJECT) });
    call.end();
  },
};

let server: Server;
let address: string;
let scratch: string;
const clients: StorageClient[] = [];

const client = (events: RetryEvent[], maxAttempts = 5, timeoutMs?: number) => {
  const made = connect(address, {
    retry: { maxAttempts, initialBackoffMs: 1, maxBackoffMs: 10, onRetry: (e) => events.push(e) },
    ...(timeoutMs === undefined ? {} : { timeoutMs }),
  });
  clients.push(made);
  return made;
};

beforeAll(async () => {
  server = new Server();
  server.addService(storageProto().lumenslate.storage.v1.StorageService.service, service);
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync("127.0.0.1:0", ServerCredentials.createInsecure(), (err, bound) =>
      err ? reject(err) : resolve(bound),
    ),
  );
  address = `127.0.0.1:${port}`;
  scratch = await mkdtemp(join(tmpdir(), "lss-client-retry-"));
});

afterAll(async () => {
  for (const c of clients) c.close();
  await new Promise<void>((resolve) => server?.tryShutdown(() => resolve()));
  if (scratch) await rm(scratch, { recursive: true, force: true });
});

beforeEach(() => {
  attempts.length = 0;
  failures.clear();
});

describe("StorageClient retries", () => {
  it("retries a unary call on retryable codes, with one request id for every attempt", async () => {
    const events: RetryEvent[] = [];
    failures.set("StatFile", [{ code: "UNAVAILABLE" }, { code: "OVERLOADED" }]);
    expect((await client(events).stat({ bucket: "b", objectName: "k" })).size).toBe(OBJECT.length);
    expect(events.map((e) => [e.method, e.attempt, e.error.code])).toEqual([
      ["StatFile", 1, "UNAVAILABLE"],
      ["StatFile", 2, "OVERLOADED"],
    ]);
    const ids = new Set(attempts.map((a) => a.requestId));
    expect(attempts).toHaveLength(3);
    expect(ids.size).toBe(1);
    expect([...ids][0]).toMatch(/^[0-9a-f-]{36}$/);
  });

  it("does not retry a final error, and stops after maxAttempts", async () => {
    const events: RetryEvent[] = [];
    failures.set("StatFile", [{ code: "NOT_FOUND" }]);
    await expect(client(events).stat({ bucket: "b", objectName: "k" })).rejects.toMatchObject({
      code: "NOT_FOUND",
    });
    expect(attempts).toHaveLength(1);
    failures.set("StatFile", [{ code: "UNAVAILABLE" }, { code: "UNAVAILABLE" }, { code: "UNAVAILABLE" }]);
    await expect(client(events, 2).stat({ bucket: "b", objectName: "k" })).rejects.toMatchObject({
      code: "UNAVAILABLE",
      name: "UnavailableError",
    });
    expect(attempts).toHaveLength(3);
    expect(events.map((e) => e.attempt)).toEqual([1]);
  });

  it("keeps one deadline for all attempts: no wait past it, however many attempts remain", async () => {
    const events: RetryEvent[] = [];
    // Told to come back in 2 s with 1 s left: the client gives up with the service's answer.
    failures.set("StatFile", [{ code: "RATE_LIMITED", retryAfter: 2 }]);
    const err = await client(events, 5, 1_000)
      .stat({ bucket: "b", objectName: "k" })
      .catch((e: unknown) => e);
    expect(err).toMatchObject({ code: "RATE_LIMITED", retryAfterSeconds: 2 });
    expect(events).toEqual([]);
    expect(attempts).toHaveLength(1);
  });

  it("replays a Buffer, a string and a file path upload from the start", async () => {
    const events: RetryEvent[] = [];
    const storage = client(events);
    const path = join(scratch, "up.txt");
    await writeFile(path, OBJECT);
    const uploads = [
      () => storage.upload(Buffer.from(OBJECT), { bucket: "b", objectName: "k" }),
      () => storage.upload(OBJECT, { bucket: "b", objectName: "k" }),
      () => storage.uploadFile(path, { bucket: "b", objectName: "k" }),
    ];
    for (const upload of uploads) {
      attempts.length = 0;
      failures.set("UploadFile", [{ code: "UNAVAILABLE" }]);
      expect((await upload()).size).toBe(OBJECT.length);
      expect(attempts.map((a) => a.body)).toEqual([OBJECT, OBJECT]);
    }
    expect(events.map((e) => e.method)).toEqual(["UploadFile", "UploadFile", "UploadFile"]);
  });

  it("never replays a one-shot stream or iterable", async () => {
    const events: RetryEvent[] = [];
    const storage = client(events);
    const bodies = [
      () => Readable.from([Buffer.from(OBJECT)]),
      async function* () {
        yield Buffer.from(OBJECT);
      },
    ];
    for (const body of bodies) {
      attempts.length = 0;
      failures.set("UploadFile", [{ code: "UNAVAILABLE" }]);
      await expect(storage.upload(body(), { bucket: "b", objectName: "k" })).rejects.toMatchObject({
        code: "UNAVAILABLE",
      });
      expect(attempts).toHaveLength(1);
    }
    expect(events).toEqual([]);
  });

  it("retries a download stream until its header arrives, and not after", async () => {
    const events: RetryEvent[] = [];
    const storage = client(events);
    failures.set("DownloadFile", [{ code: "UNAVAILABLE" }]);
    const download = await storage.downloadStream({ bucket: "b", objectName: "k", verify: true });
    expect((await download.stream.toArray()).join("")).toBe(OBJECT);
    expect(events).toHaveLength(1);

    failures.set("DownloadFile", [{ code: "UNAVAILABLE", afterChunk: true }]);
    const broken = await storage.downloadStream({ bucket: "b", objectName: "k" });
    await expect(broken.stream.toArray()).rejects.toMatchObject({ code: "UNAVAILABLE" });
    expect(events).toHaveLength(1); // the bytes were the caller's already
  });

  it("starts a download to a file again after a mid-stream failure, leaving only the whole file", async () => {
    const events: RetryEvent[] = [];
    const dir = await mkdtemp(join(scratch, "down-"));
    failures.set("DownloadFile", [{ code: "UNAVAILABLE", afterChunk: true }, { code: "OVERLOADED" }]);
    const file = await client(events).downloadToFile(join(dir, "copy.txt"), {
      bucket: "b",
      objectName: "k",
      verify: true,
    });
    expect(file.sha256).toBe(sha256);
    expect(await readFile(join(dir, "copy.txt"), "utf8")).toBe(OBJECT);
    expect(await readdir(dir)).toEqual(["copy.txt"]);
    expect(events.map((e) => e.error.code)).toEqual(["UNAVAILABLE", "OVERLOADED"]);

    failures.set("DownloadFile", [{ code: "NOT_FOUND" }]);
    await expect(
      client(events).downloadToFile(join(dir, "missing.txt"), { bucket: "b", objectName: "k" }),
    ).rejects.toMatchObject({ code: "NOT_FOUND" });
    expect(await readdir(dir)).toEqual(["copy.txt"]);
  });
});
