import { createCipheriv, createHash } from "node:crypto";
import { Readable } from "node:stream";
import { type Client, credentials, status as grpcStatus, Metadata, type ServiceError } from "@grpc/grpc-js";
import { sql } from "kysely";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ObjectInfo } from "../src/core/types.ts";
import { storageProto } from "../src/transports/grpc/definition.ts";
import { type GrpcServer, startGrpcServer } from "../src/transports/grpc/server.ts";
import { createTestApp } from "./support/app.ts";
import {
  bearer,
  expectProblem,
  type HttpHarness,
  json,
  jsonPost,
  startHttp,
  streamed,
} from "./support/http.ts";

/**
 * Resumable upload sessions against a real MinIO: parts go straight to the store with URLs the
 * service signs (each part's sha256 signed in, enforced by MinIO), a "dropped connection" is a
 * client that stops and a new one that asks the session which parts the store has, and completion
 * verifies the whole sha256 before the index row is written, once.
 */

const MiB = 1024 ** 2;

interface SessionJson {
  id: string;
  bucket: string;
  key: string;
  size: number;
  sha256: string;
  partSize: number;
  partCount: number;
  state: string;
  expiresAt: string;
}
interface StatusJson extends SessionJson {
  parts: { partNumber: number; size: number; etag: string }[];
}
interface PartUrlJson {
  partNumber: number;
  url: string;
  method: "PUT";
  headers: Record<string, string>;
}

/**
 * Deterministic pseudo-random bytes, regenerated on demand (AES-CTR keystream per object and part),
 * so a 1 GiB object is never held in memory: only one part at a time.
 */
function partBytes(seed: string, partNumber: number, size: number): Buffer {
  const key = createHash("sha256").update(seed).digest();
  const iv = Buffer.alloc(16);
  iv.writeUInt32BE(partNumber, 0);
  return createCipheriv("aes-256-ctr", key, iv).update(Buffer.alloc(size));
}

/** A planned object: its parts' sizes, and the sha256 of each part and of the whole. */
function planObject(seed: string, size: number, partSize: number) {
  const count = Math.max(1, Math.ceil(size / partSize));
  const sizeOf = (n: number) => (n < count ? partSize : size - partSize * (count - 1));
  const whole = createHash("sha256");
  const partSha: string[] = [];
  for (let n = 1; n <= count; n++) {
    const bytes = partBytes(seed, n, sizeOf(n));
    whole.update(bytes);
    partSha.push(createHash("sha256").update(bytes).digest("hex"));
  }
  return { seed, size, partSize, count, sizeOf, partSha, sha256: whole.digest("hex") };
}
type Planned = ReturnType<typeof planObject>;

let h: HttpHarness;
let temp: string;
let logs: string;

beforeAll(async () => {
  h = await startHttp("minio", { STORAGE_MAX_FILE_SIZE_BY_BUCKET: "logs=6MiB" });
  temp = h.app.config.buckets.temp;
  logs = h.app.config.buckets.logs;
});

afterAll(async () => {
  await h?.close();
});

const createSession = (body: Record<string, unknown>, token = h.token) =>
  fetch(`${h.base}/v1/uploads`, {
    ...jsonPost(body),
    headers: { ...jsonPost(body).headers, ...bearer(token) },
  });

async function openSession(key: string, object: Planned, bucket = temp): Promise<SessionJson> {
  const res = await createSession({
    bucket,
    key,
    size: object.size,
    sha256: object.sha256,
    partSize: object.partSize,
  });
  expect(res.status).toBe(201);
  return json<SessionJson>(res);
}

async function partUrls(
  id: string,
  object: Planned,
  numbers: number[],
  token = h.token,
): Promise<PartUrlJson[]> {
  const body = { parts: numbers.map((n) => ({ partNumber: n, sha256: object.partSha[n - 1] })) };
  const res = await fetch(`${h.base}/v1/uploads/${id}/parts`, {
    ...jsonPost(body),
    headers: { "content-type": "application/json", ...bearer(token) },
  });
  expect(res.status).toBe(200);
  return (await json<{ parts: PartUrlJson[] }>(res)).parts;
}

/** PUTs parts straight to MinIO with plain fetch, one part in memory at a time. */
async function putParts(urls: PartUrlJson[], object: Planned): Promise<void> {
  for (const u of urls) {
    const res = await fetch(u.url, {
      method: "PUT",
      headers: u.headers,
      body: partBytes(object.seed, u.partNumber, object.sizeOf(u.partNumber)),
    });
    expect(res.status, await res.text()).toBe(200);
  }
}

const status = async (id: string) => json<StatusJson>(await h.fetch(`${h.base}/v1/uploads/${id}`));
const complete = (id: string, token = h.token) =>
  fetch(`${h.base}/v1/uploads/${id}/complete`, { method: "POST", headers: bearer(token) });

async function indexRows(bucket: string, key: string): Promise<{ sha256: string; size: number }[]> {
  const { rows } = await sql<{ sha256: string; size: string }>`
    select sha256, size from object_versions where bucket = ${bucket} and key = ${key}`.execute(h.app.db);
  return rows.map((r) => ({ sha256: r.sha256, size: Number(r.size) }));
}

/** An upload cut after `cutAfter` parts, resumed by a new client from the session's status. */
async function uploadWithCut(
  key: string,
  object: Planned,
  cutAfter: number,
): Promise<{ info: ObjectInfo; sessionId: string }> {
  const session = await openSession(key, object);
  expect(session).toMatchObject({ partCount: object.count, partSize: object.partSize, state: "open" });
  const all = Array.from({ length: object.count }, (_, i) => i + 1);
  // First client: asks for every URL, uploads some parts, then its connection is gone.
  await putParts((await partUrls(session.id, object, all)).slice(0, cutAfter), object);

  // A new client knows only the session id: the store reports the parts it has.
  const seen = await status(session.id);
  expect(seen.parts.map((p) => p.partNumber)).toEqual(all.slice(0, cutAfter));
  expect(seen.parts.every((p) => p.size === object.sizeOf(p.partNumber))).toBe(true);
  const done = new Set(seen.parts.map((p) => p.partNumber));
  const missing = all.filter((n) => !done.has(n));
  // Completing too early is refused, naming what is missing, and changes nothing.
  const early = await expectProblem(await complete(session.id), 412, "PRECONDITION_FAILED");
  expect(early.detail).toContain(`missing ${missing.length} of ${object.count} parts`);
  await putParts(await partUrls(session.id, object, missing), object);

  const res = await complete(session.id);
  expect(res.status).toBe(200);
  const info = await json<ObjectInfo>(res);
  expect(info).toMatchObject({ bucket: temp, key, size: object.size, sha256: object.sha256 });
  return { info, sessionId: session.id };
}

describe("upload sessions (real MinIO)", () => {
  it("resumes after a dropped connection, verifies the whole sha256 and writes the index row once", async () => {
    const object = planObject("small", 12 * MiB + 123, 5 * MiB);
    const { info, sessionId } = await uploadWithCut("sessions/small.bin", object, 1);
    const stat = await h.app.service.stat(temp, "sessions/small.bin");
    expect(stat).toMatchObject({ size: object.size, sha256: object.sha256, etag: info.etag });
    expect(await indexRows(temp, "sessions/small.bin")).toEqual([
      { sha256: object.sha256, size: object.size },
    ]);

    // Completing again answers the same object and writes nothing more.
    const again = await complete(sessionId);
    expect(again.status).toBe(200);
    expect(await json<ObjectInfo>(again)).toEqual(info);
    expect(await indexRows(temp, "sessions/small.bin")).toHaveLength(1);
    expect((await status(sessionId)).state).toBe("completed");
    // The bytes read back through the service are the planned ones.
    const download = await h.app.service.download(temp, "sessions/small.bin");
    const hash = createHash("sha256");
    for await (const chunk of download.body) hash.update(chunk as Buffer);
    expect(hash.digest("hex")).toBe(object.sha256);
  });

  it("completes once when completions race: one verifies and records, the others are told it is in progress or get the same object", async () => {
    const object = planObject("race", 6 * MiB, 5 * MiB);
    const session = await openSession("sessions/race.bin", object);
    await putParts(await partUrls(session.id, object, [1, 2]), object);
    const answers = await Promise.all([1, 2, 3].map(() => complete(session.id)));
    const statuses = answers.map((r) => r.status);
    expect(statuses).toContain(200);
    expect(statuses.every((s) => s === 200 || s === 412)).toBe(true);
    for (const res of answers.filter((r) => r.status === 412)) {
      expect((await json<{ detail: string }>(res)).detail).toMatch(/being completed by another request/);
    }
    const settled = await complete(session.id);
    expect(settled.status).toBe(200);
    expect(await json<ObjectInfo>(settled)).toMatchObject({ sha256: object.sha256, size: object.size });
    expect(await indexRows(temp, "sessions/race.bin")).toEqual([
      { sha256: object.sha256, size: object.size },
    ]);
  });

  it("a 1 GiB object in 64 MiB parts, cut after 7 parts and resumed", async () => {
    const object = planObject("one-gib", 1024 * MiB, 64 * MiB);
    await uploadWithCut("sessions/one-gib.bin", object, 7);
    expect(await h.app.service.stat(temp, "sessions/one-gib.bin")).toMatchObject({
      size: 1024 * MiB,
      sha256: object.sha256,
    });
    expect(await indexRows(temp, "sessions/one-gib.bin")).toEqual([
      { sha256: object.sha256, size: 1024 * MiB },
    ]);
    expect(
      (await h.app.store.listIncompleteUploads(temp)).filter((u) => u.key === "sessions/one-gib.bin"),
    ).toEqual([]);
  }, 300_000);

  it("refuses completion when the declared sha256 is wrong, leaving no object and no row", async () => {
    const object = planObject("liar", 6 * MiB, 5 * MiB);
    const declared = { ...object, sha256: planObject("other", 6 * MiB, 5 * MiB).sha256 };
    const session = await openSession("sessions/liar.bin", declared);
    await putParts(await partUrls(session.id, object, [1, 2]), object);
    const problem = await expectProblem(await complete(session.id), 412, "PRECONDITION_FAILED");
    expect(problem.detail).toMatch(/sha256 does not match/);
    await expect(h.app.store.head(temp, "sessions/liar.bin")).rejects.toMatchObject({ code: "NOT_FOUND" });
    expect(await indexRows(temp, "sessions/liar.bin")).toEqual([]);
    expect((await status(session.id)).state).toBe("aborted");
    // The session is over: no more URLs, and completing again is refused the same way.
    await expectProblem(
      await h.fetch(
        `${h.base}/v1/uploads/${session.id}/parts`,
        jsonPost({ parts: [{ partNumber: 1, sha256: object.partSha[0] }] }),
      ),
      412,
      "PRECONDITION_FAILED",
    );
  });

  it("MinIO refuses a part whose body does not match the sha256 signed into its URL", async () => {
    const object = planObject("tamper", 5 * MiB + 10, 5 * MiB);
    const session = await openSession("sessions/tamper.bin", object);
    const [url] = await partUrls(session.id, object, [1]);
    if (!url) throw new Error("no URL");
    const wrongBody = await fetch(url.url, {
      method: "PUT",
      headers: url.headers,
      body: partBytes("evil", 1, 5 * MiB),
    });
    expect(wrongBody.status).toBe(400);
    expect(await wrongBody.text()).toMatch(/XAmzContentChecksumMismatch/);
    // Without the signed checksum header the URL is no good either.
    const noHeader = await fetch(url.url, { method: "PUT", body: partBytes(object.seed, 1, 5 * MiB) });
    expect(noHeader.status).toBe(400);
    expect((await status(session.id)).parts).toEqual([]);
    // A part URL without the part's sha256 is refused by the service before anything is signed.
    await expectProblem(
      await h.fetch(`${h.base}/v1/uploads/${session.id}/parts`, jsonPost({ parts: [{ partNumber: 1 }] })),
      400,
      "INVALID_ARGUMENT",
    );
    await expectProblem(
      await h.fetch(
        `${h.base}/v1/uploads/${session.id}/parts`,
        jsonPost({ parts: [{ partNumber: 3, sha256: object.partSha[0] }] }),
      ),
      400,
      "INVALID_ARGUMENT",
    );
    expect((await h.fetch(`${h.base}/v1/uploads/${session.id}`, { method: "DELETE" })).status).toBe(204);
    expect(
      (await h.app.store.listIncompleteUploads(temp)).filter((u) => u.key === "sessions/tamper.bin"),
    ).toEqual([]);
  });

  it("refuses a caller without write scope before any URL is issued, and another owner's session", async () => {
    const object = planObject("authz", 5 * MiB, 5 * MiB);
    const reader = await h.createKey("reader-svc", [`${temp}:read`]);
    const refused = await createSession(
      { bucket: temp, key: "sessions/authz.bin", size: object.size, sha256: object.sha256 },
      reader,
    );
    await expectProblem(refused, 403, "PERMISSION_DENIED");
    expect(
      (await h.app.store.listIncompleteUploads(temp)).filter((u) => u.key === "sessions/authz.bin"),
    ).toEqual([]);

    const session = await openSession("sessions/authz.bin", object);
    const other = await h.createKey("other-svc", [`${temp}:read,write`]);
    const body = { parts: [{ partNumber: 1, sha256: object.partSha[0] }] };
    const foreign = await fetch(`${h.base}/v1/uploads/${session.id}/parts`, {
      ...jsonPost(body),
      headers: { "content-type": "application/json", ...bearer(other) },
    });
    await expectProblem(foreign, 404, "NOT_FOUND");
    await expectProblem(await complete(session.id, other), 404, "NOT_FOUND");
    await expectProblem(
      await fetch(`${h.base}/v1/uploads/${session.id}`, { method: "DELETE", headers: bearer(other) }),
      404,
      "NOT_FOUND",
    );
    expect((await status(session.id)).state).toBe("open");
  });

  it("TOO_LARGE at create for a size over the bucket's limit, and while streaming over it, naming the setting", async () => {
    const object = planObject("big-log", 7 * MiB, 5 * MiB);
    const refused = await expectProblem(
      await createSession({
        bucket: logs,
        key: "sessions/big.log",
        size: object.size,
        sha256: object.sha256,
      }),
      413,
      "TOO_LARGE",
    );
    expect(refused.detail).toContain("STORAGE_MAX_FILE_SIZE_BY_BUCKET logs=6MiB");
    expect(refused.details).toMatchObject({ limit: 6 * MiB });

    // A streamed upload of unknown length through the service is cut at the bucket's limit.
    const body = Readable.from(
      (function* () {
        for (let i = 0; i < 7; i++)
          yield Buffer.concat([Buffer.from("log line\n"), partBytes("log", i, MiB - 9)]);
      })(),
    );
    const res = await h.fetch(
      h.objectUrl(logs, "sessions/streamed.log"),
      streamed(body, { method: "PUT", headers: { "content-type": "text/plain" } }),
    );
    const streamedProblem = await expectProblem(res, 413, "TOO_LARGE");
    expect(streamedProblem.detail).toContain("STORAGE_MAX_FILE_SIZE_BY_BUCKET logs=6MiB");
    await expect(h.app.store.head(logs, "sessions/streamed.log")).rejects.toMatchObject({
      code: "NOT_FOUND",
    });
    expect(h.app.service.maxFileSize(logs)).toBe(6 * MiB);
    expect(h.app.service.maxFileSize(h.app.config.buckets.modelArtifacts)).toBe(50 * 1024 * MiB);
  });

  it("sweeps expired sessions: their parts are dropped and the session refuses further use", async () => {
    // A tiny TTL (long enough for the part PUT below on a busy machine); the sweep is then given a
    // clock past it rather than waited for.
    const app = await createTestApp("minio", { UPLOAD_SESSION_TTL: "60s" });
    try {
      const object = planObject("expiring", 6 * MiB, 5 * MiB);
      const session = await app.service.sessions.create({
        bucket: app.config.buckets.temp,
        key: "sessions/expiring.bin",
        size: object.size,
        sha256: object.sha256,
        partSize: object.partSize,
        owner: "sweeper-test",
      });
      expect(session.expiresAt.getTime() - session.createdAt.getTime()).toBe(60_000);
      const urls = await app.service.sessions.partUrls(session.id, "sweeper-test", [
        { partNumber: 1, sha256: object.partSha[0] },
      ]);
      await putParts(
        urls.map((u) => ({ ...u, url: u.url })),
        object,
      );
      const pending = () => app.store.listIncompleteUploads(app.config.buckets.temp);
      expect((await pending()).filter((u) => u.key === "sessions/expiring.bin")).toHaveLength(1);

      // Before its expiry a sweep leaves it alone (the database may hold other suites' sessions).
      await app.service.sessions.sweep(new Date(session.expiresAt.getTime() - 1));
      expect((await app.service.sessions.get(session.id, "sweeper-test")).state).toBe("open");
      expect((await pending()).filter((u) => u.key === "sessions/expiring.bin")).toHaveLength(1);
      expect(
        await app.service.sessions.sweep(new Date(session.expiresAt.getTime() + 1)),
      ).toBeGreaterThanOrEqual(1);
      expect((await pending()).filter((u) => u.key === "sessions/expiring.bin")).toEqual([]);
      expect((await app.service.sessions.get(session.id, "sweeper-test")).state).toBe("aborted");
      await expect(app.service.sessions.complete(session.id, "sweeper-test")).rejects.toMatchObject({
        code: "PRECONDITION_FAILED",
      });
    } finally {
      await app.dispose();
    }
  });

  it("is refused on the local backend with UNSUPPORTED_OPERATION", async () => {
    const app = await createTestApp("local");
    try {
      await expect(
        app.service.sessions.create({
          bucket: app.config.buckets.temp,
          key: "x.bin",
          size: 1,
          sha256: "0".repeat(64),
          owner: "x",
        }),
      ).rejects.toMatchObject({ code: "UNSUPPORTED_OPERATION", message: expect.stringMatching(/S3\/MinIO/) });
    } finally {
      await app.dispose();
    }
  });
});

describe("UploadSessionService over gRPC", () => {
  let grpc: GrpcServer;
  let client: Client;

  beforeAll(async () => {
    grpc = await startGrpcServer(h.app, { host: "127.0.0.1", port: 0 });
    const Service = storageProto().lumenslate.storage.v1.UploadSessionService;
    client = new Service(`127.0.0.1:${grpc.port}`, credentials.createInsecure());
  });

  afterAll(async () => {
    client?.close();
    await grpc?.close(0);
  });

  /** One unary call with a bearer token; resolves with the response or rejects with the ServiceError. */
  const call = <T>(method: string, request: unknown, token = h.token): Promise<T> =>
    new Promise((resolve, reject) => {
      const metadata = new Metadata();
      metadata.set("authorization", `Bearer ${token}`);
      type Unary = (req: unknown, md: Metadata, cb: (err: ServiceError | null, res: T) => void) => void;
      const fn = (client as unknown as Record<string, Unary>)[method];
      if (!fn) throw new Error(`no method ${method}`);
      fn.call(client, request, metadata, (err, res) => (err ? reject(err) : resolve(res)));
    });

  const codeOf = (err: ServiceError) => err.metadata.get("x-error-code")[0];

  it("refuses a caller without write scope (PERMISSION_DENIED) before any URL or upload exists", async () => {
    const object = planObject("grpc-authz", 5 * MiB, 5 * MiB);
    const reader = await h.createKey("grpc-reader", [`${temp}:read`]);
    const err = await call(
      "CreateUploadSession",
      { bucket: temp, objectName: "grpc/authz.bin", size: object.size, sha256: object.sha256 },
      reader,
    ).then(
      () => expect.unreachable(),
      (e: ServiceError) => e,
    );
    expect(err.code).toBe(grpcStatus.PERMISSION_DENIED);
    expect((await h.app.store.listIncompleteUploads(temp)).filter((u) => u.key === "grpc/authz.bin")).toEqual(
      [],
    );
  });

  it("creates, resumes, completes once and keeps sessions to their owner", async () => {
    const object = planObject("grpc-flow", 11 * MiB, 5 * MiB);
    const session = await call<{ id: string; partCount: number; state: string }>("CreateUploadSession", {
      bucket: temp,
      objectName: "grpc/flow.bin",
      size: object.size,
      sha256: object.sha256,
      partSize: object.partSize,
    });
    expect(session).toMatchObject({ partCount: 3, state: "open" });
    const parts = [1, 2, 3].map((n) => ({ partNumber: n, sha256: object.partSha[n - 1] }));
    const { parts: urls } = await call<{ parts: PartUrlJson[] }>("GetUploadPartUrls", {
      id: session.id,
      parts,
    });
    await putParts(urls.slice(0, 2), object);
    const seen = await call<{ parts: { partNumber: number }[] }>("GetUploadSession", { id: session.id });
    expect(seen.parts.map((p) => p.partNumber)).toEqual([1, 2]);
    await putParts(urls.slice(2), object);

    const stranger = await h.createKey("grpc-stranger", [`${temp}:read,write`]);
    const foreign = await call("CompleteUploadSession", { id: session.id }, stranger).then(
      () => expect.unreachable(),
      (e: ServiceError) => e,
    );
    expect([foreign.code, codeOf(foreign)]).toEqual([grpcStatus.NOT_FOUND, "NOT_FOUND"]);

    const info = await call<{ sha256: string; size: number; versionId: string }>("CompleteUploadSession", {
      id: session.id,
    });
    expect(info).toMatchObject({ sha256: object.sha256, size: object.size });
    expect(await call("CompleteUploadSession", { id: session.id })).toEqual(info);
    expect(await indexRows(temp, "grpc/flow.bin")).toEqual([{ sha256: object.sha256, size: object.size }]);
  });

  it("RESOURCE_EXHAUSTED (TOO_LARGE) for a declared size over the bucket's limit", async () => {
    const err = await call("CreateUploadSession", {
      bucket: logs,
      objectName: "grpc/big.log",
      size: 7 * MiB,
      sha256: "a".repeat(64),
    }).then(
      () => expect.unreachable(),
      (e: ServiceError) => e,
    );
    expect([err.code, codeOf(err)]).toEqual([grpcStatus.RESOURCE_EXHAUSTED, "TOO_LARGE"]);
    expect(err.details).toContain("STORAGE_MAX_FILE_SIZE_BY_BUCKET logs=6MiB");
  });
});
