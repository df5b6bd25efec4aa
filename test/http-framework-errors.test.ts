import { request as httpRequest } from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Problem } from "../src/transports/http/problem.ts";
import { bearer, type HttpHarness, startHttp } from "./support/http.ts";

interface RawResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/**
 * A request whose path goes on the wire exactly as given: fetch() and URL would re-encode or
 * reject a malformed escape before it left the client.
 */
function rawRequest(
  base: string,
  method: string,
  path: string,
  headers: Record<string, string> = {},
  body?: string,
): Promise<RawResponse> {
  const { hostname, port } = new URL(base);
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: hostname, port, method, path, headers }, (res) => {
      let text = "";
      res.setEncoding("utf8");
      res.on("data", (chunk: string) => {
        text += chunk;
      });
      res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text }));
      res.on("error", reject);
    });
    req.on("error", reject);
    req.end(body);
  });
}

/** A problem+json answer with this status and code, whose request id matches its header. */
function expectRawProblem(res: RawResponse, status: number, code: string): Problem {
  expect({ status: res.status, type: res.headers["content-type"] }).toEqual({
    status,
    type: expect.stringMatching(/^application\/problem\+json/),
  });
  const problem = JSON.parse(res.body) as Problem;
  expect(problem).toMatchObject({
    type: `urn:lumenslate-storage:problem:${code}`,
    status,
    code,
    requestId: res.headers["x-request-id"],
  });
  expect(problem.requestId).toEqual(expect.any(String));
  return problem;
}

/**
 * Errors Fastify raises before a route handler runs (the router failing to decode a path, its
 * not-found handler, the body parsers) answer with the service's problem+json and a stable code,
 * never with Fastify's own JSON. Every request carries a valid admin key, so it is not
 * authentication that refuses them.
 */
describe("HTTP API: framework errors are problem+json", () => {
  let h: HttpHarness;
  let temp: string;
  let auth: Record<string, string>;

  beforeAll(async () => {
    h = await startHttp("local", { HTTP_JSON_BODY_LIMIT: "1KiB" });
    temp = h.app.config.buckets.temp;
    auth = bearer(h.token);
  });
  afterAll(async () => {
    await h?.close();
  });

  it.each([
    ["a lone surrogate", "a%ED%A0%80b"],
    ["'%' alone", "a%"],
    ["'%' alone mid-key", "a%b.txt"],
    ["'%zz'", "a%zzb"],
    ["an over-long UTF-8 form of '/'", "a%C0%AFb"],
    ["a truncated UTF-8 sequence", "a%E2%82"],
  ])("a key with %s in the path: 400 INVALID_ARGUMENT", async (_label, rawKey) => {
    for (const method of ["GET", "HEAD", "PUT", "DELETE"]) {
      const res = await rawRequest(
        h.base,
        method,
        `/v1/buckets/${temp}/objects/${rawKey}`,
        auth,
        method === "PUT" ? "x" : undefined,
      );
      if (method === "HEAD") {
        expect(res.status).toBe(400);
        expect(res.headers["content-type"]).toMatch(/^application\/problem\+json/);
        continue;
      }
      const problem = expectRawProblem(res, 400, "INVALID_ARGUMENT");
      expect(problem.detail).toMatch(/percent-encoded UTF-8/);
      expect(problem.details).toEqual({ field: "path" });
    }
    // Nothing was written under any spelling of the key.
    const listing = await h.fetch(`${h.base}/v1/buckets/${temp}/objects`);
    expect(((await listing.json()) as { objects: unknown[] }).objects).toEqual([]);
  });

  it("a bad escape in the bucket segment or in an unknown route is refused the same way", async () => {
    expectRawProblem(
      await rawRequest(h.base, "GET", "/v1/buckets/te%zzmp/objects/a.txt", auth),
      400,
      "INVALID_ARGUMENT",
    );
    expectRawProblem(await rawRequest(h.base, "GET", "/v2/%ED%A0%80", auth), 400, "INVALID_ARGUMENT");
  });

  it("a well-encoded key with an invisible bidi control passes the router and is refused by key validation", async () => {
    const res = await rawRequest(
      h.base,
      "PUT",
      `/v1/buckets/${temp}/objects/invoice%E2%80%AEfdp.exe`,
      auth,
      "x",
    );
    const problem = expectRawProblem(res, 400, "INVALID_ARGUMENT");
    expect(problem.detail).toContain("U+202E");
    expect(problem.details).toMatchObject({ field: "key", codePoint: "U+202E" });
  });

  it("a path parameter over the router's length limit: 400 INVALID_ARGUMENT", async () => {
    const res = await rawRequest(h.base, "GET", `/v1/buckets/${"b".repeat(5000)}/objects/a.txt`, auth);
    expect(expectRawProblem(res, 400, "INVALID_ARGUMENT").details).toEqual({ field: "path" });
  });

  it("an unknown route or method: 404 NOT_FOUND", async () => {
    for (const [method, path] of [
      ["GET", "/v2/anything"],
      ["GET", "/"],
      ["PATCH", `/v1/buckets/${temp}/objects/a.txt`],
      ["GET", "/v1/buckets"],
    ] as const) {
      expectRawProblem(await rawRequest(h.base, method, path, auth), 404, "NOT_FOUND");
    }
  });

  it("body parser errors: empty or broken JSON, a refused content type, a JSON body over its limit", async () => {
    const post = (headers: Record<string, string>, body: string) =>
      rawRequest(h.base, "POST", "/v1/copy", { ...auth, ...headers }, body);
    const json = { "content-type": "application/json" };
    expectRawProblem(await post(json, ""), 400, "INVALID_ARGUMENT");
    expectRawProblem(await post(json, '{"source":'), 400, "INVALID_ARGUMENT");
    expectRawProblem(
      await post({ "content-type": "application/x-www-form-urlencoded" }, "a=b"),
      415,
      "UNSUPPORTED_TYPE",
    );
    expectRawProblem(await post({ "content-type": "text/plain" }, "{}"), 415, "UNSUPPORTED_TYPE");
    expectRawProblem(await post(json, JSON.stringify({ pad: "x".repeat(2048) })), 413, "TOO_LARGE");
  });
});
