import { randomBytes } from "node:crypto";
import { Readable } from "node:stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startHttpServer } from "../src/transports/http/server.ts";
import { createTestApp } from "./support/app.ts";
import { type Caller, describeAuthMatrix, type MatrixCalls, type Outcome } from "./support/auth-matrix.ts";
import {
  bearer,
  expectProblem,
  type HttpHarness,
  jsonPost,
  keyPath,
  type ListingJson,
  multipartBody,
  startHttp,
  streamed,
} from "./support/http.ts";

/** The HTTP side of the shared authorization matrix (test/support/auth-matrix.ts), plus HTTP-only rules. */

const MiB = 1024 * 1024;

const headersFor = (caller: Caller): Record<string, string> => ({
  ...(caller.token === undefined ? {} : bearer(caller.token)),
  ...(caller.userId === undefined ? {} : { "x-user-id": caller.userId }),
});

async function outcomeOf(res: Response, ok: (res: Response) => Promise<Outcome>): Promise<Outcome> {
  if (res.ok) return ok(res);
  const problem = (await res.json()) as { code: string; detail: string };
  return { ok: false, code: problem.code, status: String(res.status), message: problem.detail };
}

/** One real HTTP request per matrix action. */
function httpCalls(base: string): MatrixCalls {
  const objectUrl = (bucket: string, key: string) => `${base}/v1/buckets/${bucket}/objects/${keyPath(key)}`;
  const done = async (res: Response): Promise<Outcome> => {
    await res.arrayBuffer();
    return { ok: true };
  };
  return {
    read: async (caller, { bucket, key }) =>
      outcomeOf(await fetch(objectUrl(bucket, key), { headers: headersFor(caller) }), async (res) => ({
        ok: true,
        body: await res.text(),
      })),
    write: async (caller, { bucket, key }, body) =>
      outcomeOf(
        await fetch(objectUrl(bucket, key), { method: "PUT", body, headers: headersFor(caller) }),
        done,
      ),
    delete: async (caller, { bucket, key }) =>
      outcomeOf(await fetch(objectUrl(bucket, key), { method: "DELETE", headers: headersFor(caller) }), done),
    list: async (caller, bucket, prefix) => {
      const query = new URLSearchParams({ prefix, recursive: "true" });
      const res = await fetch(`${base}/v1/buckets/${bucket}/objects?${query}`, {
        headers: headersFor(caller),
      });
      return outcomeOf(res, async (r) => ({
        ok: true,
        keys: ((await r.json()) as ListingJson).objects.map((o) => o.key),
      }));
    },
    presign: async (caller, { bucket, key }) => {
      const init = jsonPost({ bucket, key, method: "GET" });
      const res = await fetch(`${base}/v1/presign`, {
        ...init,
        headers: { ...(init.headers as Record<string, string>), ...headersFor(caller) },
      });
      return outcomeOf(res, async (r) => ({ ok: true, url: ((await r.json()) as { url: string }).url }));
    },
    // No HTTP operation needs `admin` on a bucket: the matrix checks that admin implies the rest.
    admin: "implied",
  };
}

describeAuthMatrix({
  name: "HTTP",
  statusOf: (code) => (code === "PERMISSION_DENIED" ? "403" : "401"),
  createApp: () =>
    createTestApp("minio", { RATE_LIMIT_ENABLED: "false", HTTP_HOST: "127.0.0.1", HTTP_PORT: "0" }),
  start: async (app) => {
    const server = await startHttpServer(app);
    return { calls: httpCalls(server.address), close: () => server.close() };
  },
});

/** What the matrix does not cover: the HTTP shapes of refusals and the body and multi-target routes. */
describe("HTTP authentication and authorization details", () => {
  let h: HttpHarness;
  let temp: string;
  let userData: string;

  beforeAll(async () => {
    h = await startHttp("minio", { STORAGE_MAX_FILE_SIZE: "64MiB" });
    temp = h.app.config.buckets.temp;
    userData = h.app.config.buckets.userData;
  });
  afterAll(async () => {
    await h?.close();
  });

  const as = (token: string, init: RequestInit = {}): RequestInit => ({
    ...init,
    headers: { ...(init.headers as Record<string, string> | undefined), ...bearer(token) },
  });
  const listing = async (bucket: string, prefix: string) => {
    const res = await h.fetch(`${h.base}/v1/buckets/${bucket}/objects?prefix=${prefix}&recursive=true`);
    return ((await res.json()) as ListingJson).objects.map((o) => o.key);
  };

  it("answers 401 problem+json with WWW-Authenticate: Bearer, and keeps probes, metrics and docs open", async () => {
    const url = h.objectUrl(temp, "a.txt");
    for (const headers of [{}, { authorization: "Basic dXNlcjpwYXNz" }, bearer("lss_nope")]) {
      const res = await fetch(url, { headers });
      expect(res.headers.get("www-authenticate")).toMatch(/^Bearer\b/);
      await expectProblem(res, 401, "UNAUTHENTICATED");
    }
    // Unknown /v1 paths need a key before they say 404.
    await expectProblem(await fetch(`${h.base}/v1/nothing-here`), 401, "UNAUTHENTICATED");
    await expectProblem(await h.fetch(`${h.base}/v1/nothing-here`), 404, "NOT_FOUND");
    for (const path of ["/healthz", "/readyz", "/metrics", "/openapi.json", "/docs"]) {
      const res = await fetch(`${h.base}${path}`);
      expect(res.status, path).toBe(200);
      await res.arrayBuffer();
    }
  });

  it("refuses an out-of-scope upload before reading its body, and stores nothing", async () => {
    const token = await h.createKey("docs-writer", [`${temp}/docs/:write`]);
    let sent = 0;
    const body = new Readable({
      read() {
        if (sent >= 48 * MiB) return void this.push(null);
        sent += MiB;
        this.push(randomBytes(MiB));
      },
    });
    const res = await fetch(h.objectUrl(temp, "other/big.bin"), streamed(body, as(token, { method: "PUT" })));
    const sentWhenAnswered = sent;
    await expectProblem(res, 403, "PERMISSION_DENIED");
    expect(res.headers.get("connection")).toBe("close");
    expect(sentWhenAnswered).toBeLessThan(24 * MiB);
    body.destroy();
    expect(await listing(temp, "other/")).toEqual([]);
    // A bucket the key has no scope on is 403, never 404, whether it exists or not.
    const missingBucket = await fetch(h.objectUrl("no-such-bucket-anywhere", "docs/a.txt"), as(token));
    await expectProblem(missingBucket, 403, "PERMISSION_DENIED");
    const denied = await fetch(h.objectUrl(userData, "docs/a.txt"), as(token, { method: "PUT", body: "x" }));
    await expectProblem(denied, 403, "PERMISSION_DENIED");
  });

  it("authorizes multipart uploads on their folder, copies on source and target, delete-by-prefix on the prefix", async () => {
    const token = await h.createKey("folder-owner", [
      `${temp}/box/:read,write,delete,list`,
      `${temp}/pub/:read`,
    ]);
    expect(
      (await h.fetch(h.objectUrl(temp, "pub/source.txt"), { method: "PUT", body: "public" })).status,
    ).toBe(201);
    const form = () =>
      multipartBody([
        { name: "file", filename: "one.txt", data: Buffer.from("one") },
        { name: "file", filename: "two.txt", data: Buffer.from("two") },
      ]);
    const post = (path: string) => {
      const f = form();
      return fetch(
        h.objectUrl(temp, path),
        streamed(f.body, as(token, { method: "POST", headers: { "content-type": f.contentType } })),
      );
    };
    expect((await post("box/forms")).status).toBe(201);
    await expectProblem(await post("elsewhere"), 403, "PERMISSION_DENIED");
    await expectProblem(await post("bo"), 403, "PERMISSION_DENIED");
    expect(await listing(temp, "box/")).toEqual(["box/forms/one.txt", "box/forms/two.txt"]);

    const copy = (source: string, target: string) =>
      fetch(
        `${h.base}/v1/copy`,
        as(token, jsonPost({ source: { bucket: temp, key: source }, target: { bucket: temp, key: target } })),
      );
    expect((await copy("pub/source.txt", "box/copied.txt")).status).toBe(201);
    await expectProblem(await copy("pub/source.txt", "pub/copied.txt"), 403, "PERMISSION_DENIED");
    await expectProblem(await copy("secret/none.txt", "box/copied-2.txt"), 403, "PERMISSION_DENIED");

    const deletePrefix = (prefix: string) =>
      fetch(`${h.base}/v1/buckets/${temp}/objects?prefix=${prefix}`, as(token, { method: "DELETE" }));
    await expectProblem(await deletePrefix("pub/"), 403, "PERMISSION_DENIED");
    await expectProblem(
      await fetch(`${h.base}/v1/buckets/${temp}/objects?all=true`, as(token, { method: "DELETE" })),
      403,
      "PERMISSION_DENIED",
    );
    const removed = await deletePrefix("box/forms/");
    expect(await removed.json()).toMatchObject({ deleted: 2, failed: 0 });
    expect(await listing(temp, "box/")).toEqual(["box/copied.txt"]);
    expect(await listing(temp, "pub/")).toEqual(["pub/source.txt"]);
  });
});

describe("HTTP with AUTH_DISABLED=true", () => {
  let h: HttpHarness;

  beforeAll(async () => {
    h = await startHttp("local", { AUTH_DISABLED: "true" });
  });
  afterAll(async () => {
    await h?.close();
  });

  it("serves /v1 without a key and says so on /readyz", async () => {
    const ready = await fetch(`${h.base}/readyz`);
    expect(await ready.json()).toEqual({
      status: "ready",
      backend: "local",
      store: "ok",
      auth: "disabled",
      warnings: [expect.stringContaining("AUTHENTICATION IS DISABLED")],
    });
    const temp = h.app.config.buckets.temp;
    expect((await fetch(h.objectUrl(temp, "open.txt"), { method: "PUT", body: "open" })).status).toBe(201);
    expect(await (await fetch(h.objectUrl(temp, "open.txt"))).text()).toBe("open");
  });
});
