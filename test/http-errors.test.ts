import { randomBytes } from "node:crypto";
import { Readable } from "node:stream";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type AppContext, createApp } from "../src/app.ts";
import { type HttpServer, startHttpServer } from "../src/transports/http/server.ts";
import { testConfig } from "./support/config.ts";
import { sha256Of, uploadableBytes } from "./support/data.ts";
import {
  createKey,
  expectProblem,
  fetchWithKey,
  type HttpHarness,
  jsonPost,
  multipartBody,
  startHttp,
  streamed,
} from "./support/http.ts";

const MiB = 1024 * 1024;

/** A lazily generated body of up to `limit` bytes that counts what the client actually handed over. */
function countingBody(limit: number) {
  const state = { sent: 0 };
  const stream = new Readable({
    read() {
      if (state.sent >= limit) return void this.push(null);
      const chunk = uploadableBytes(256 * 1024);
      state.sent += chunk.length;
      this.push(chunk);
    },
  });
  return { stream, state };
}

/**
 * Every error status of the API caused by a real bad request over a real socket (401 and 403 are
 * covered by auth-matrix-http.test.ts). 500 is reserved for bugs, so no request can cause it on
 * purpose.
 */
describe("HTTP API: errors are problem+json with real status codes", () => {
  let h: HttpHarness;
  let temp: string;
  let userData: string;

  beforeAll(async () => {
    h = await startHttp("minio", { STORAGE_MAX_FILE_SIZE: "1MiB" });
    temp = h.app.config.buckets.temp;
    userData = h.app.config.buckets.userData;
  });
  afterAll(async () => {
    await h?.close();
  });

  it("400 for invalid keys, bucket names, query values, JSON and forms", async () => {
    const badKey = await h.fetch(`${h.base}/v1/buckets/${temp}/objects/a//b.txt`, {
      method: "PUT",
      body: "x",
    });
    expect((await expectProblem(badKey, 400, "INVALID_ARGUMENT")).details).toMatchObject({ field: "key" });
    const badBucket = await h.fetch(`${h.base}/v1/buckets/Not_A_Bucket/objects/a.txt`);
    expect((await expectProblem(badBucket, 400, "INVALID_ARGUMENT")).details).toMatchObject({
      field: "bucket",
    });
    const badLimit = await h.fetch(`${h.base}/v1/buckets/${temp}/objects?limit=abc`);
    const problem = await expectProblem(badLimit, 400, "INVALID_ARGUMENT");
    expect(problem).toMatchObject({
      type: "urn:lumenslate-storage:problem:INVALID_ARGUMENT",
      title: expect.any(String),
      instance: `/v1/buckets/${temp}/objects`,
      details: { field: "limit" },
    });
    const badJson = await h.fetch(`${h.base}/v1/presign`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: "{not json",
    });
    await expectProblem(badJson, 400, "INVALID_ARGUMENT");
    const badBody = await h.fetch(
      `${h.base}/v1/presign`,
      jsonPost({ bucket: temp, key: "k", method: "DELETE" }),
    );
    expect((await expectProblem(badBody, 400, "INVALID_ARGUMENT")).details).toMatchObject({
      field: "body.method",
    });
    const noFile = multipartBody([{ name: "key", value: "x.txt" }]);
    const empty = await h.fetch(
      h.objectUrl(temp, "forms"),
      streamed(noFile.body, { method: "POST", headers: { "content-type": noFile.contentType } }),
    );
    await expectProblem(empty, 400, "INVALID_ARGUMENT");
    const broken = await h.fetch(h.objectUrl(temp, "forms"), {
      method: "POST",
      headers: { "content-type": "multipart/form-data; boundary=xyz" },
      body: '--xyz\r\nContent-Disposition: form-data; name="file"; filename="a.txt"\r\n\r\ncut off',
    });
    await expectProblem(broken, 400, "INVALID_ARGUMENT");
  });

  it("404 for a missing object, a missing bucket and an unknown route", async () => {
    await expectProblem(await h.fetch(h.objectUrl(temp, "missing.txt")), 404, "NOT_FOUND");
    await expectProblem(
      await h.fetch(h.objectUrl(temp, "missing.txt"), { method: "DELETE" }),
      404,
      "NOT_FOUND",
    );
    const noBucket = await h.fetch(h.objectUrl("no-such-bucket-here", "a.txt"), { method: "PUT", body: "x" });
    await expectProblem(noBucket, 404, "NOT_FOUND");
    await expectProblem(await h.fetch(`${h.base}/v2/anything`), 404, "NOT_FOUND");
  });

  it("409 when a copy must not overwrite an existing target", async () => {
    await h.fetch(h.objectUrl(temp, "exists.txt"), { method: "PUT", body: "here" });
    const res = await h.fetch(
      `${h.base}/v1/copy`,
      jsonPost({
        source: { bucket: temp, key: "exists.txt" },
        target: { bucket: temp, key: "exists.txt" },
        overwrite: false,
      }),
    );
    await expectProblem(res, 409, "ALREADY_EXISTS");
  });

  it("412 for a failed If-Match and for a body whose sha256 is not the announced one (nothing stored)", async () => {
    await h.fetch(h.objectUrl(temp, "etagged.txt"), { method: "PUT", body: "v1" });
    await expectProblem(
      await h.fetch(h.objectUrl(temp, "etagged.txt"), { headers: { "if-match": '"nope"' } }),
      412,
      "PRECONDITION_FAILED",
    );
    const wrong = await h.fetch(h.objectUrl(temp, "checked.txt"), {
      method: "PUT",
      body: "the real body",
      headers: { "x-checksum-sha256": sha256Of("another body") },
    });
    expect((await expectProblem(wrong, 412, "PRECONDITION_FAILED")).details).toMatchObject({
      field: "sha256",
    });
    await expectProblem(await h.fetch(h.objectUrl(temp, "checked.txt")), 404, "NOT_FOUND");
    const form = multipartBody([
      { name: "sha256", value: sha256Of("another body") },
      { name: "file", filename: "checked.txt", data: Buffer.from("the real body") },
    ]);
    const wrongPart = await h.fetch(
      h.objectUrl(temp, "forms"),
      streamed(form.body, { method: "POST", headers: { "content-type": form.contentType } }),
    );
    await expectProblem(wrongPart, 412, "PRECONDITION_FAILED");
    await expectProblem(await h.fetch(h.objectUrl(temp, "forms/checked.txt")), 404, "NOT_FOUND");
  });

  it("413 while streaming: the answer comes as soon as the limit is crossed, not after the body", async () => {
    const body = countingBody(1024 * MiB);
    const started = Date.now();
    const res = await h.fetch(h.objectUrl(temp, "huge.bin"), streamed(body.stream, { method: "PUT" }));
    const sentWhenAnswered = body.state.sent;
    const problem = await expectProblem(res, 413, "TOO_LARGE");
    expect(problem.details).toMatchObject({ limit: MiB });
    expect(res.headers.get("connection")).toBe("close");
    expect(sentWhenAnswered).toBeLessThan(64 * MiB);
    expect(Date.now() - started).toBeLessThan(10_000);
    body.stream.destroy();
    await expectProblem(await h.fetch(h.objectUrl(temp, "huge.bin")), 404, "NOT_FOUND");
    const pending = await h.app.store.listIncompleteUploads(temp);
    expect(pending.filter((u) => u.key === "huge.bin")).toEqual([]);
  });

  it("413 for a multipart file over the limit, for a Content-Length over it (before reading), and for JSON over its limit", async () => {
    const file = countingBody(1024 * MiB);
    const form = multipartBody([{ name: "file", filename: "big.bin", data: file.stream }]);
    const res = await h.fetch(
      h.objectUrl(temp, "forms"),
      streamed(form.body, { method: "POST", headers: { "content-type": form.contentType } }),
    );
    const sentWhenAnswered = file.state.sent;
    await expectProblem(res, 413, "TOO_LARGE");
    expect(sentWhenAnswered).toBeLessThan(64 * MiB);
    form.body.destroy();
    await expectProblem(await h.fetch(h.objectUrl(temp, "forms/big.bin")), 404, "NOT_FOUND");

    const declared = await h.fetch(h.objectUrl(temp, "declared.bin"), {
      method: "PUT",
      body: randomBytes(2 * MiB),
    });
    await expectProblem(declared, 413, "TOO_LARGE");

    const json = await h.fetch(
      `${h.base}/v1/presign`,
      jsonPost({ bucket: temp, key: "k", method: "GET", pad: "x".repeat(2 * MiB) }),
    );
    await expectProblem(json, 413, "TOO_LARGE");
  });

  it("415 for content that is not what its name says, a refused extension, and a JSON route sent text", async () => {
    const fake = await h.fetch(h.objectUrl(userData, "fake.pdf"), {
      method: "PUT",
      body: "not a pdf at all",
    });
    await expectProblem(fake, 415, "UNSUPPORTED_TYPE");
    const exe = await h.fetch(h.objectUrl(userData, "tool.exe"), { method: "PUT", body: "MZ" });
    await expectProblem(exe, 415, "UNSUPPORTED_TYPE");
    await expectProblem(await h.fetch(h.objectUrl(userData, "fake.pdf")), 404, "NOT_FOUND");
    const text = await h.fetch(`${h.base}/v1/presign`, { method: "POST", body: "bucket=temp" });
    await expectProblem(text, 415, "UNSUPPORTED_TYPE");
    const notForm = await h.fetch(h.objectUrl(temp, "forms"), {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: "{}",
    });
    await expectProblem(notForm, 415, "UNSUPPORTED_TYPE");
  });

  it("416 for a range outside the object", async () => {
    await h.fetch(h.objectUrl(temp, "short.txt"), { method: "PUT", body: "short" });
    const res = await h.fetch(h.objectUrl(temp, "short.txt"), { headers: { range: "bytes=5-" } });
    expect(res.headers.get("content-range")).toBe("bytes */5");
    await expectProblem(res, 416, "RANGE_NOT_SATISFIABLE");
  });

  it("echoes the caller's x-request-id in the header and the problem body", async () => {
    const res = await h.fetch(h.objectUrl(temp, "missing.txt"), {
      headers: { "x-request-id": "trace-abc.123" },
    });
    expect(res.headers.get("x-request-id")).toBe("trace-abc.123");
    expect((await expectProblem(res, 404, "NOT_FOUND")).requestId).toBe("trace-abc.123");
    const odd = await h.fetch(h.objectUrl(temp, "missing.txt"), {
      headers: { "x-request-id": "has spaces\tand tabs" },
    });
    expect(odd.headers.get("x-request-id")).toMatch(/^[0-9a-f-]{36}$/);
    await odd.text();
  });
});

describe("HTTP API: 503 when the object store is down", () => {
  let app: AppContext;
  let server: HttpServer;
  let authed: typeof fetch;

  beforeAll(async () => {
    // Nothing listens on port 1: every S3 call is refused, as when MinIO is down.
    const config = testConfig({ MINIO_ENDPOINT: "127.0.0.1:1", HTTP_HOST: "127.0.0.1", HTTP_PORT: "0" });
    app = await createApp(config, pino({ level: "silent" }));
    authed = fetchWithKey(await createKey(app, "test-admin", ["*:admin"]));
    server = await startHttpServer(app);
  });
  afterAll(async () => {
    await server?.close();
    await app?.close();
  });

  it("answers 503 UNAVAILABLE for object requests and for /readyz", async () => {
    const res = await authed(`${server.address}/v1/buckets/${app.config.buckets.temp}/objects/a.txt`);
    await expectProblem(res, 503, "UNAVAILABLE");
    const ready = await fetch(`${server.address}/readyz`);
    expect(ready.status).toBe(503);
    expect(await ready.json()).toMatchObject({ status: "unavailable", code: "UNAVAILABLE" });
  });
});
