import { createHash } from "node:crypto";
import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import {
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
import { DataCorruptedError } from "./errors.ts";

/**
 * What the client announces on uploads and checks on downloads, against a fake StorageService on
 * loopback that records every upload header and serves downloads whose recorded sha256 a test
 * can falsify (a store that lies, which the real service would never serve knowingly).
 */

const sha = (data: string | Buffer) => createHash("sha256").update(data).digest("hex");
const OBJECT = "integrity matters";

interface UploadHeader {
  bucket: string;
  objectName: string;
  expectedSize?: number;
  sha256?: string;
}

const headers: UploadHeader[] = [];
const presigned: { objectName: string; method: string }[] = [];
/** What the fake answers: the sha256 it claims to have stored / recorded, when not the real one. */
let storedSha: string | undefined;
let recordedSha: string | undefined;
/** Fail the download with DATA_LOSS after its first chunk, as the service does on a bad read. */
let failMidStream = false;

const service = {
  UploadFile(
    call: ServerReadableStream<{ header?: UploadHeader; chunk?: Buffer }, unknown>,
    callback: sendUnaryData<unknown>,
  ) {
    const chunks: Buffer[] = [];
    call.on("data", (message: { header?: UploadHeader; chunk?: Buffer }) => {
      if (message.header) headers.push(message.header);
      if (message.chunk) chunks.push(message.chunk);
    });
    call.on("end", () => {
      const body = Buffer.concat(chunks);
      callback(null, {
        success: true,
        bucket: "b",
        objectName: "k",
        size: body.length,
        sha256: storedSha ?? sha(body),
      });
    });
  },
  DownloadFile(call: ServerWritableStream<{ range?: { start: number; end?: number } }, unknown>) {
    const range = call.request.range;
    const body = range ? OBJECT.slice(Number(range.start), Number(range.end) + 1) : OBJECT;
    const file = { bucket: "b", objectName: "k", size: OBJECT.length, sha256: recordedSha ?? sha(OBJECT) };
    call.write({
      header: {
        file,
        contentLength: body.length,
        ...(range ? { range: { start: range.start, end: range.end } } : {}),
      },
    });
    call.write({ chunk: Buffer.from(body) });
    if (failMidStream) call.emit("error", { code: status.DATA_LOSS, details: "stored bytes changed" });
    else call.end();
  },
  GetFileUrl(
    call: ServerUnaryCall<{ objectName: string; method: string }, unknown>,
    callback: sendUnaryData<unknown>,
  ) {
    presigned.push({ objectName: call.request.objectName, method: call.request.method });
    callback(null, { url: `http://store.invalid/${call.request.objectName}`, method: call.request.method });
  },
};

let server: Server;
let storage: StorageClient;
let scratch: string;

beforeAll(async () => {
  server = new Server();
  server.addService(storageProto().lumenslate.storage.v1.StorageService.service, service);
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync("127.0.0.1:0", ServerCredentials.createInsecure(), (err, bound) =>
      err ? reject(err) : resolve(bound),
    ),
  );
  storage = connect(`127.0.0.1:${port}`, { retry: { maxAttempts: 1 } });
  scratch = await mkdtemp(join(tmpdir(), "lss-client-integrity-"));
});

afterAll(async () => {
  storage?.close();
  await new Promise<void>((resolve) => server?.tryShutdown(() => resolve()));
  if (scratch) await rm(scratch, { recursive: true, force: true });
});

beforeEach(() => {
  headers.length = 0;
  presigned.length = 0;
  storedSha = undefined;
  recordedSha = undefined;
  failMidStream = false;
});

const target = { bucket: "b", objectName: "k" };
const announcedOf = (h: UploadHeader | undefined) => ({ size: h?.expectedSize, sha256: h?.sha256 });

describe("uploads announce size and sha256", () => {
  it("for a Buffer, a string, uploadBytes and a file", async () => {
    const path = join(scratch, "up.txt");
    await writeFile(path, OBJECT);
    await storage.upload(Buffer.from(OBJECT), target);
    await storage.upload(OBJECT, target);
    await storage.uploadBytes(new TextEncoder().encode(OBJECT), target);
    await storage.uploadFile(path, target);
    const expected = { size: OBJECT.length, sha256: sha(OBJECT) };
    expect(headers.map(announcedOf)).toEqual([expected, expected, expected, expected]);
  });

  it("keeps the caller's values, skips the sha256 on checksum: false, and a stream announces only what it is given", async () => {
    const path = join(scratch, "big.txt");
    await writeFile(path, "x".repeat(3 * 1024 * 1024 + 7)); // several reads for the first pass
    await storage.upload(OBJECT, { ...target, sha256: "a".repeat(64), expectedSize: 99 });
    await storage.upload(OBJECT, { ...target, checksum: false });
    await storage.uploadFile(path, target);
    await storage.uploadFile(path, { ...target, checksum: false });
    await storage.upload(Readable.from([Buffer.from(OBJECT)]), target);
    await storage.uploadStream(Readable.from([Buffer.from(OBJECT)]), { ...target, expectedSize: 17 });
    const file = 3 * 1024 * 1024 + 7;
    expect(headers.map(announcedOf)).toEqual([
      { size: 99, sha256: "a".repeat(64) },
      { size: OBJECT.length, sha256: undefined },
      { size: file, sha256: sha(await readFile(path)) },
      { size: file, sha256: undefined },
      { size: undefined, sha256: undefined },
      { size: 17, sha256: undefined },
    ]);
  });

  it("fails with DataCorruptedError when the service says it stored other bytes than were sent", async () => {
    storedSha = "0".repeat(64);
    const err = await storage
      .upload(Readable.from([Buffer.from(OBJECT)]), { ...target, requestId: "up-1" })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DataCorruptedError);
    expect(err).toMatchObject({ code: "DATA_CORRUPTED", requestId: "up-1", details: { sha256: storedSha } });
  });
});

describe("downloads are verified by default", () => {
  it("passes matching bytes, in a stream, a file and a Buffer", async () => {
    const download = await storage.downloadStream(target);
    expect(Buffer.concat(await download.stream.toArray()).toString()).toBe(OBJECT);
    expect((await storage.downloadBytes(target)).toString()).toBe(OBJECT);
    const dir = await mkdtemp(join(scratch, "ok-"));
    expect((await storage.downloadToFile(join(dir, "copy.txt"), target)).sha256).toBe(sha(OBJECT));
    expect(await readFile(join(dir, "copy.txt"), "utf8")).toBe(OBJECT);
  });

  it("refuses bytes that do not match the recorded sha256, leaving no file; verify: false accepts them", async () => {
    recordedSha = sha("other bytes of the same length");
    const dir = await mkdtemp(join(scratch, "bad-"));
    const err = await storage
      .downloadToFile(join(dir, "copy.txt"), { ...target, requestId: "down-1" })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DataCorruptedError);
    expect(err).toMatchObject({ requestId: "down-1", details: { objectName: "k", sha256: recordedSha } });
    expect(await readdir(dir)).toEqual([]); // neither the file nor its temp file

    const stream = (await storage.downloadStream(target)).stream;
    await expect(stream.toArray()).rejects.toBeInstanceOf(DataCorruptedError);
    await expect(storage.downloadBytes(target)).rejects.toBeInstanceOf(DataCorruptedError);

    await storage.downloadToFile(join(dir, "copy.txt"), { ...target, verify: false });
    expect(await readFile(join(dir, "copy.txt"), "utf8")).toBe(OBJECT);
    const unchecked = await storage.downloadStream({ ...target, verify: false });
    expect(Buffer.concat(await unchecked.stream.toArray()).toString()).toBe(OBJECT);
  });

  it("names the call's request id in an error the stream's trailers carry none for", async () => {
    failMidStream = true;
    const download = await storage.downloadStream({ ...target, requestId: "down-2" });
    await expect(download.stream.toArray()).rejects.toMatchObject({
      code: "DATA_CORRUPTED",
      message: "stored bytes changed",
      requestId: "down-2",
    });
  });

  it("does not hash a ranged read (the recorded sha256 is the whole object's)", async () => {
    recordedSha = "0".repeat(64);
    const bytes = await storage.downloadBytes({ ...target, range: { start: 0, end: 8 } });
    expect(bytes.toString()).toBe("integrity");
  });
});

describe("presign", () => {
  it("asks for a presigned URL, and getUrl is the same call", async () => {
    const get = await storage.presign({ ...target, objectName: "a.txt" });
    const put = await storage.getUrl({ ...target, objectName: "b.txt", method: "PUT" });
    expect([get.method, get.url, put.method]).toEqual(["GET", "http://store.invalid/a.txt", "PUT"]);
    expect(presigned).toEqual([
      { objectName: "a.txt", method: "URL_METHOD_GET" },
      { objectName: "b.txt", method: "URL_METHOD_PUT" },
    ]);
  });
});
