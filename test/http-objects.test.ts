import { Readable } from "node:stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { digestStream, randomSource, sha256Of } from "./support/data.ts";
import {
  createKey,
  expectProblem,
  fetchWithKey,
  type HttpHarness,
  json,
  jsonPost,
  type ListingJson,
  multipartBody,
  type ObjectInfoJson,
  startHttp,
  streamed,
} from "./support/http.ts";

const MiB = 1024 * 1024;

/** Objects over real HTTP against the shared MinIO: uploads, downloads, ranges, conditionals, versions, listing, copy, delete. */
describe("HTTP API: objects", () => {
  let h: HttpHarness;
  let temp: string;
  let versioned: string;

  beforeAll(async () => {
    h = await startHttp("minio");
    temp = h.app.config.buckets.temp;
    versioned = h.app.config.buckets.modelArtifacts;
  });
  afterAll(async () => {
    await h?.close();
  });

  const put = (bucket: string, key: string, body: string | Buffer, headers: Record<string, string> = {}) =>
    h.fetch(h.objectUrl(bucket, key), { method: "PUT", body, headers });

  it("uploads a raw body with its type, x-meta-* and checksum, and serves it back with the same headers", async () => {
    const text = "hello over http";
    const res = await put(temp, "raw/hello.txt", text, {
      "content-type": "text/plain; charset=utf-8",
      "x-meta-origin": "http-test",
      "x-checksum-sha256": sha256Of(text),
    });
    expect(res.status).toBe(201);
    const info = await json<ObjectInfoJson>(res);
    expect(info).toMatchObject({
      bucket: temp,
      key: "raw/hello.txt",
      size: text.length,
      sha256: sha256Of(text),
      contentType: "text/plain; charset=utf-8",
      metadata: { origin: "http-test" },
    });
    expect(res.headers.get("etag")).toBe(info.etag);
    expect(res.headers.get("location")).toBe(`/v1/buckets/${temp}/objects/raw/hello.txt`);

    const got = await h.fetch(h.objectUrl(temp, "raw/hello.txt"));
    expect(got.status).toBe(200);
    expect(await got.text()).toBe(text);
    expect(Object.fromEntries(got.headers)).toMatchObject({
      "content-type": "text/plain; charset=utf-8",
      "content-length": String(text.length),
      etag: info.etag,
      "x-checksum-sha256": sha256Of(text),
      "x-meta-origin": "http-test",
      "accept-ranges": "bytes",
      "x-version-id": "null",
    });
    expect(Date.parse(got.headers.get("last-modified") ?? "")).not.toBeNaN();

    const head = await h.fetch(h.objectUrl(temp, "raw/hello.txt"), { method: "HEAD" });
    expect(head.status).toBe(200);
    expect(head.headers.get("content-length")).toBe(String(text.length));
    expect(head.headers.get("etag")).toBe(info.etag);
    expect(await head.text()).toBe("");
  });

  it("records the calling key's service as the owner of the version", async () => {
    const token = await createKey(h.app, "ingest-bot", [`${temp}:write`]);
    const res = await fetchWithKey(token)(h.objectUrl(temp, "owned/by-bot.txt"), {
      method: "PUT",
      body: "mine",
    });
    expect(res.status).toBe(201);
    expect(await h.app.index.find(temp, "owned/by-bot.txt")).toMatchObject({ owner: "ingest-bot" });
  });

  it("streams a chunked body of unknown length (multipart on S3) with sha256 equal after download", async () => {
    const source = randomSource(24 * MiB);
    const res = await h.fetch(
      h.objectUrl(temp, "raw/chunked.bin"),
      streamed(source.stream, { method: "PUT" }),
    );
    expect(res.status).toBe(201);
    const expected = await source.sha256;
    expect(await res.json()).toMatchObject({ size: 24 * MiB, sha256: expected });
    const got = await h.fetch(h.objectUrl(temp, "raw/chunked.bin"));
    expect(got.headers.get("content-type")).toBe("application/octet-stream");
    expect(await digestStream(Readable.fromWeb(got.body as never))).toEqual({
      sha256: expected,
      size: 24 * MiB,
    });
  });

  it("addresses keys with slashes, spaces, percent signs and non-ASCII exactly", async () => {
    const key = "dir/sub dir/été ✓ 100%25?.txt";
    expect((await put(temp, key, "odd key")).status).toBe(201);
    expect(await (await h.fetch(h.objectUrl(temp, key))).text()).toBe("odd key");
    const list = await json<ListingJson>(
      await h.fetch(
        `${h.base}/v1/buckets/${temp}/objects?${new URLSearchParams({ prefix: "dir/sub dir/" })}`,
      ),
    );
    expect(list.objects.map((o) => o.key)).toEqual([key]);
  });

  describe("ranges", () => {
    const data = "0123456789abcdefghij";
    let etag: string;
    beforeAll(async () => {
      etag = (await json<ObjectInfoJson>(await put(temp, "ranges.txt", data))).etag;
    });
    const range = (value: string, headers: Record<string, string> = {}) =>
      h.fetch(h.objectUrl(temp, "ranges.txt"), { headers: { range: value, ...headers } });

    it.each([
      ["bytes=5-9", "56789", "bytes 5-9/20"],
      ["bytes=15-", "fghij", "bytes 15-19/20"],
      ["bytes=-3", "hij", "bytes 17-19/20"],
      ["bytes=18-100", "ij", "bytes 18-19/20"],
      ["bytes=0-0", "0", "bytes 0-0/20"],
    ])("%s → 206 %s", async (header, body, contentRange) => {
      const res = await range(header);
      expect(res.status).toBe(206);
      expect(res.headers.get("content-range")).toBe(contentRange);
      expect(res.headers.get("content-length")).toBe(String(body.length));
      expect(await res.text()).toBe(body);
    });

    it.each(["bytes=20-", "bytes=-0", "bytes=100-200"])(
      "%s → 416 with Content-Range: bytes */20",
      async (header) => {
        const res = await range(header);
        expect(res.headers.get("content-range")).toBe("bytes */20");
        await expectProblem(res, 416, "RANGE_NOT_SATISFIABLE");
      },
    );

    it("ignores ranges it does not serve (several ranges, other units) and sends the whole object", async () => {
      for (const header of ["bytes=0-1,4-5", "items=0-1", "bytes=9-2"]) {
        const res = await range(header);
        expect(res.status).toBe(200);
        expect(await res.text()).toBe(data);
      }
    });

    it("honours If-Range only while the validator matches", async () => {
      const fresh = await range("bytes=0-3", { "if-range": etag });
      expect(fresh.status).toBe(206);
      expect(await fresh.text()).toBe("0123");
      const stale = await range("bytes=0-3", { "if-range": '"not-the-etag"' });
      expect(stale.status).toBe(200);
      expect(await stale.text()).toBe(data);
    });
  });

  describe("conditional requests", () => {
    let etag: string;
    let lastModified: string;
    beforeAll(async () => {
      await put(temp, "cond.txt", "conditional");
      const head = await h.fetch(h.objectUrl(temp, "cond.txt"), { method: "HEAD" });
      etag = head.headers.get("etag") as string;
      lastModified = head.headers.get("last-modified") as string;
    });
    const get = (headers: Record<string, string>, method = "GET") =>
      h.fetch(h.objectUrl(temp, "cond.txt"), { method, headers });

    it("answers If-None-Match with 304 (no body, same validators) for GET and HEAD", async () => {
      for (const method of ["GET", "HEAD"]) {
        const res = await get({ "if-none-match": etag }, method);
        expect(res.status).toBe(304);
        expect(res.headers.get("etag")).toBe(etag);
        expect(await res.text()).toBe("");
      }
      expect((await get({ "if-none-match": `W/${etag}` })).status).toBe(304);
      expect((await get({ "if-none-match": `"other", ${etag}` })).status).toBe(304);
      expect((await get({ "if-none-match": "*" })).status).toBe(304);
      const changed = await get({ "if-none-match": '"other"' });
      expect(changed.status).toBe(200);
      expect(await changed.text()).toBe("conditional");
    });

    it("answers If-Match with 412 when the ETag differs and 200 when it matches", async () => {
      await expectProblem(await get({ "if-match": '"stale"' }), 412, "PRECONDITION_FAILED");
      const ok = await get({ "if-match": etag });
      expect(ok.status).toBe(200);
      expect(await ok.text()).toBe("conditional");
    });

    it("uses Last-Modified for If-Modified-Since and If-Unmodified-Since", async () => {
      expect((await get({ "if-modified-since": lastModified })).status).toBe(304);
      const past = new Date(Date.parse(lastModified) - 3600_000).toUTCString();
      const modified = await get({ "if-modified-since": past });
      expect(modified.status).toBe(200);
      await modified.text();
      await expectProblem(await get({ "if-unmodified-since": past }), 412, "PRECONDITION_FAILED");
      // If-None-Match wins over If-Modified-Since.
      const both = await get({ "if-none-match": '"other"', "if-modified-since": lastModified });
      expect(both.status).toBe(200);
      await both.text();
    });
  });

  it("sets Content-Disposition for ?download, with an RFC 6266 filename* for any name", async () => {
    await put(temp, "docs/report.txt", "report");
    const named = await h.fetch(h.objectUrl(temp, "docs/report.txt", { download: 'Résumé "final".txt' }));
    expect(named.headers.get("content-disposition")).toBe(
      `attachment; filename="R_sum_ _final_.txt"; filename*=UTF-8''R%C3%A9sum%C3%A9%20%22final%22.txt`,
    );
    await named.text();
    const plain = await h.fetch(h.objectUrl(temp, "docs/report.txt", { download: "" }));
    expect(plain.headers.get("content-disposition")).toBe(
      `attachment; filename="report.txt"; filename*=UTF-8''report.txt`,
    );
    await plain.text();
  });

  it("reads and deletes single versions in a versioned bucket, and leaves a delete marker otherwise", async () => {
    const first = await json<ObjectInfoJson>(await put(versioned, "model/weights.bin", "version one"));
    const second = await json<ObjectInfoJson>(await put(versioned, "model/weights.bin", "version two"));
    expect(first.versionId).not.toBe(second.versionId);
    expect(first.versionId).not.toBe("null");
    expect(await (await h.fetch(h.objectUrl(versioned, "model/weights.bin"))).text()).toBe("version two");
    const old = await h.fetch(h.objectUrl(versioned, "model/weights.bin", { versionId: first.versionId }));
    expect(old.headers.get("x-version-id")).toBe(first.versionId);
    expect(await old.text()).toBe("version one");

    const removed = await h.fetch(
      h.objectUrl(versioned, "model/weights.bin", { versionId: second.versionId }),
      {
        method: "DELETE",
      },
    );
    expect(removed.status).toBe(204);
    expect(removed.headers.get("x-delete-marker")).toBe("false");
    expect(await (await h.fetch(h.objectUrl(versioned, "model/weights.bin"))).text()).toBe("version one");

    const marked = await h.fetch(h.objectUrl(versioned, "model/weights.bin"), { method: "DELETE" });
    expect(marked.status).toBe(204);
    expect(marked.headers.get("x-delete-marker")).toBe("true");
    await expectProblem(await h.fetch(h.objectUrl(versioned, "model/weights.bin")), 404, "NOT_FOUND");
    const kept = await h.fetch(h.objectUrl(versioned, "model/weights.bin", { versionId: first.versionId }));
    expect(await kept.text()).toBe("version one");
  });

  it("deletes conditionally with If-Match", async () => {
    const { etag } = await json<ObjectInfoJson>(await put(temp, "guarded.txt", "guarded"));
    const refused = await h.fetch(h.objectUrl(temp, "guarded.txt"), {
      method: "DELETE",
      headers: { "if-match": '"stale"' },
    });
    await expectProblem(refused, 412, "PRECONDITION_FAILED");
    expect((await h.fetch(h.objectUrl(temp, "guarded.txt"), { method: "HEAD" })).status).toBe(200);
    const done = await h.fetch(h.objectUrl(temp, "guarded.txt"), {
      method: "DELETE",
      headers: { "if-match": etag },
    });
    expect(done.status).toBe(204);
    expect((await h.fetch(h.objectUrl(temp, "guarded.txt"), { method: "HEAD" })).status).toBe(404);
  });

  it("lists with prefix, one level or recursively, in cursor pages that are disjoint and complete", async () => {
    const keys = Array.from({ length: 12 }, (_, i) => `list/${i % 3}/item-${String(i).padStart(2, "0")}.txt`);
    await Promise.all([...keys, "list/top.txt"].map((key) => put(temp, key, key)));
    const listUrl = (query: Record<string, string>) =>
      `${h.base}/v1/buckets/${temp}/objects?${new URLSearchParams(query)}`;

    const seen: string[] = [];
    let cursor: string | undefined;
    let pages = 0;
    do {
      const page = await json<ListingJson>(
        await h.fetch(
          listUrl({ prefix: "list/", recursive: "true", limit: "5", ...(cursor ? { cursor } : {}) }),
        ),
      );
      expect(page.objects.length).toBeLessThanOrEqual(5);
      expect(page.prefixes).toEqual([]);
      seen.push(...page.objects.map((o) => o.key));
      cursor = page.nextCursor;
      pages++;
    } while (cursor);
    expect(pages).toBe(3);
    expect(seen).toEqual([...keys, "list/top.txt"].sort());

    const level = await json<ListingJson>(await h.fetch(listUrl({ prefix: "list/", delimiter: "/" })));
    expect(level.prefixes).toEqual(["list/0/", "list/1/", "list/2/"]);
    expect(level.objects.map((o) => o.key)).toEqual(["list/top.txt"]);
    expect(level.objects[0]).toMatchObject({ size: "list/top.txt".length, sha256: sha256Of("list/top.txt") });

    await expectProblem(
      await h.fetch(listUrl({ prefix: "list/", delimiter: "/", recursive: "true" })),
      400,
      "INVALID_ARGUMENT",
    );
  });

  it("uploads several files in one multipart/form-data request, keyed by a `key` field or the filename", async () => {
    const form = multipartBody([
      { name: "key", value: "named.txt" },
      { name: "file", filename: "ignored.txt", contentType: "text/plain", data: Buffer.from("first file") },
      {
        name: "file",
        filename: "second.json",
        contentType: "application/json",
        data: Buffer.from('{"n":2}'),
      },
    ]);
    const res = await h.fetch(
      h.objectUrl(temp, "forms"),
      streamed(form.body, {
        method: "POST",
        headers: { "content-type": form.contentType, "x-meta-batch": "7" },
      }),
    );
    expect(res.status).toBe(201);
    const { objects } = await json<{ objects: ObjectInfoJson[] }>(res);
    expect(objects).toMatchObject([
      { key: "forms/named.txt", size: 10, sha256: sha256Of("first file"), metadata: { batch: "7" } },
      { key: "forms/second.json", contentType: "application/json", metadata: { batch: "7" } },
    ]);
    expect(await (await h.fetch(h.objectUrl(temp, "forms/named.txt"))).text()).toBe("first file");
    expect(await (await h.fetch(h.objectUrl(temp, "forms/second.json"))).text()).toBe('{"n":2}');

    // The browser's own FormData, at the top of the bucket.
    const data = new FormData();
    data.append("file", new Blob(["top level"], { type: "text/plain" }), "top-form.txt");
    const top = await h.fetch(`${h.base}/v1/buckets/${temp}/objects`, { method: "POST", body: data });
    expect(top.status).toBe(201);
    expect((await json<{ objects: ObjectInfoJson[] }>(top)).objects[0]?.key).toBe("top-form.txt");
  });

  it("rolls back the files already stored when a later file of the same form is refused", async () => {
    const userData = h.app.config.buckets.userData;
    const form = multipartBody([
      { name: "file", filename: "fine.txt", contentType: "text/plain", data: Buffer.from("fine") },
      { name: "file", filename: "tool.exe", data: Buffer.from("MZ not allowed") },
    ]);
    const res = await h.fetch(
      h.objectUrl(userData, "batch"),
      streamed(form.body, { method: "POST", headers: { "content-type": form.contentType } }),
    );
    await expectProblem(res, 415, "UNSUPPORTED_TYPE");
    await expectProblem(await h.fetch(h.objectUrl(userData, "batch/fine.txt")), 404, "NOT_FOUND");
  });

  it("copies within and across buckets, and refuses to overwrite when asked not to (409)", async () => {
    await put(temp, "copy/src.txt", "copy me", { "x-meta-k": "v" });
    const res = await h.fetch(
      `${h.base}/v1/copy`,
      jsonPost({
        source: { bucket: temp, key: "copy/src.txt" },
        target: { bucket: versioned, key: "copied/dst.txt" },
      }),
    );
    expect(res.status).toBe(201);
    expect(await res.json()).toMatchObject({
      bucket: versioned,
      key: "copied/dst.txt",
      sha256: sha256Of("copy me"),
      metadata: { k: "v" },
    });
    expect(await (await h.fetch(h.objectUrl(versioned, "copied/dst.txt"))).text()).toBe("copy me");
    const refused = await h.fetch(
      `${h.base}/v1/copy`,
      jsonPost({
        source: { bucket: temp, key: "copy/src.txt" },
        target: { bucket: versioned, key: "copied/dst.txt" },
        overwrite: false,
      }),
    );
    await expectProblem(refused, 409, "ALREADY_EXISTS");
  });

  it("deletes by prefix in batches and reports the counts; an empty prefix needs all=true", async () => {
    await Promise.all(
      Array.from({ length: 25 }, (_, i) => put(temp, `bulk/${i % 2}/obj-${i}.txt`, `bulk ${i}`)),
    );
    await put(temp, "bulkhead.txt", "outside the prefix");
    const res = await h.fetch(`${h.base}/v1/buckets/${temp}/objects?prefix=bulk/`, { method: "DELETE" });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ deleted: 25, failed: 0, errors: [] });
    const left = await json<ListingJson>(
      await h.fetch(`${h.base}/v1/buckets/${temp}/objects?prefix=bulk&recursive=true`),
    );
    expect(left.objects.map((o) => o.key)).toEqual(["bulkhead.txt"]);
    await expectProblem(
      await h.fetch(`${h.base}/v1/buckets/${temp}/objects`, { method: "DELETE" }),
      400,
      "INVALID_ARGUMENT",
    );
  });
});
