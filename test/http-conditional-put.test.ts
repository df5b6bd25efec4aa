import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { AuditRecord } from "../src/security/index.ts";
import { keyIdOf } from "./support/auth-matrix.ts";
import { randomSource, sha256Of } from "./support/data.ts";
import {
  expectProblem,
  type HttpHarness,
  json,
  type ObjectInfoJson,
  startHttp,
  streamed,
} from "./support/http.ts";

const MiB = 1024 * 1024;

/**
 * Conditional PUT over real sockets (If-None-Match: * and If-Match), on both backends: a refused
 * write is a 412 problem, writes nothing (no object, no index row) and is audited with its failure.
 */
describe.each(["local", "minio"] as const)("HTTP conditional PUT (%s)", (backend) => {
  let h: HttpHarness;
  let bucket: string;

  beforeAll(async () => {
    h = await startHttp(backend);
    bucket = h.app.config.buckets.temp;
  });
  afterAll(async () => {
    await h?.close();
  });

  const put = (key: string, body: string, headers: Record<string, string> = {}) =>
    h.fetch(h.objectUrl(bucket, key), { method: "PUT", body, headers });
  const content = async (key: string) => {
    const res = await h.fetch(h.objectUrl(bucket, key));
    return { status: res.status, text: await res.text() };
  };
  /** This suite's admin key's audit records for `key`, oldest first. */
  const auditOf = async (key: string): Promise<AuditRecord[]> =>
    (await h.app.security.audit.query({ keyId: keyIdOf(h.token), bucket, limit: 10_000 }))
      .filter((r) => r.key === key)
      .sort((a, b) => a.id - b.id);

  it("If-None-Match: * creates once; the second PUT is a 412 that changes nothing and is audited", async () => {
    const key = "cond/create.txt";
    const created = await put(key, "first", { "if-none-match": "*" });
    expect(created.status).toBe(201);
    const first = await json<ObjectInfoJson>(created);

    const refused = await put(key, "second", { "if-none-match": "*" });
    const problem = await expectProblem(refused, 412, "PRECONDITION_FAILED");
    expect(problem.details).toMatchObject({ bucket, key, condition: "if-none-match" });
    expect(await content(key)).toEqual({ status: 200, text: "first" });
    expect(await h.app.index.find(bucket, key)).toMatchObject({
      sha256: sha256Of("first"),
      etag: first.etag,
    });
    expect(
      (await auditOf(key)).map((r) => ({ action: r.action, result: r.result, details: r.details })),
    ).toEqual([
      { action: "upload", result: "OK", details: { condition: "if-none-match" } },
      { action: "upload", result: "PRECONDITION_FAILED", details: { condition: "if-none-match" } },
    ]);
  });

  it("If-Match swaps on the current ETag (201, new ETag) and refuses a stale or missing one with 412", async () => {
    const key = "cond/cas.txt";
    const v1 = (await put(key, "v1")).headers.get("etag") as string;
    const swapped = await put(key, "v2", { "if-match": v1 });
    expect(swapped.status).toBe(201);
    const v2 = swapped.headers.get("etag");
    expect(v2).toBe((await json<ObjectInfoJson>(swapped)).etag);
    expect(v2).not.toBe(v1);
    expect((await h.fetch(h.objectUrl(bucket, key), { method: "HEAD" })).headers.get("etag")).toBe(v2);

    await expectProblem(await put(key, "v3", { "if-match": v1 }), 412, "PRECONDITION_FAILED");
    expect(await content(key)).toEqual({ status: 200, text: "v2" });

    const missing = "cond/cas-missing.txt";
    await expectProblem(await put(missing, "x", { "if-match": v1 }), 412, "PRECONDITION_FAILED");
    expect((await content(missing)).status).toBe(404);
    expect(await h.app.index.find(bucket, missing)).toBeUndefined();
    expect((await auditOf(missing)).map((r) => r.result)).toEqual(["PRECONDITION_FAILED"]);
  });

  it("refuses conditions it does not support with 400, writing nothing", async () => {
    const key = "cond/unsupported.txt";
    const refused: Record<string, string>[] = [
      { "if-none-match": '"abc"' },
      { "if-match": "*" },
      { "if-match": '"a", "b"' },
      { "if-match": '"a"', "if-none-match": "*" },
      { "if-unmodified-since": new Date().toUTCString() },
    ];
    for (const headers of refused) {
      await expectProblem(await put(key, "x", headers), 400, "INVALID_ARGUMENT");
    }
    expect((await content(key)).status).toBe(404);
  });

  it("documents both headers on the upload route in the OpenAPI document", async () => {
    const doc = await json<{
      paths: Record<
        string,
        Record<string, { parameters?: { name: string; in: string; description?: string }[] }>
      >;
    }>(await h.fetch(`${h.base}/openapi.json`));
    const parameters = doc.paths["/v1/buckets/{bucket}/objects/{key}"]?.put?.parameters ?? [];
    const headers = parameters.filter((p) => p.in === "header").map((p) => p.name);
    expect(headers).toEqual(expect.arrayContaining(["if-match", "if-none-match"]));
  });

  it("answers 412 to a large streamed body without storing it", async () => {
    const key = "cond/large.bin";
    expect((await put(key, "small")).status).toBe(201);
    const source = randomSource(h.app.config.storage.multipart.partSize + 4 * MiB);
    const res = await h.fetch(
      h.objectUrl(bucket, key),
      streamed(source.stream, { method: "PUT", headers: { "if-none-match": "*" } }),
    );
    await expectProblem(res, 412, "PRECONDITION_FAILED");
    expect(await content(key)).toEqual({ status: 200, text: "small" });
    expect(await h.app.store.listIncompleteUploads(bucket)).toEqual([]);
  });
});
