import { request as httpRequest } from "node:http";
import { PutObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createS3Client } from "../src/backends/s3/client.ts";
import { blobKey } from "../src/stores/models/index.ts";
import { sha256Of, uploadableBytes } from "./support/data.ts";
import { download, expectProblem, type HttpHarness, json, jsonPost, startHttp } from "./support/http.ts";

/**
 * /v1/models over real sockets on the shared MinIO: blobs uploaded by content (deduplicated before
 * the body is read when the digest is announced), manifests published over them, files served with
 * their sha256 in ETag/Digest and cut short when the stored blob is corrupted, aliases, gc, filters
 * and pages, scopes per model type, and bad input that stores nothing.
 */

interface BlobJson {
  sha256: string;
  size: number;
  storedSize: number;
  encoding: string;
  deduplicated: boolean;
}
interface VersionJson {
  modelType: string;
  version: string;
  files: { path: string; size: number; sha256: string; storedSize: number; encoding: string }[];
  metadata: Record<string, unknown>;
  uploader: string;
  createdAt: string;
  aliases: string[];
}

describe("models over HTTP", () => {
  let h: HttpHarness;
  let bucket: string;
  let s3: S3Client;

  beforeAll(async () => {
    h = await startHttp("minio");
    bucket = h.app.config.buckets.modelArtifacts;
    s3 = createS3Client(h.app.config.s3);
  });
  afterAll(async () => {
    s3?.destroy();
    await h?.close();
  });

  const models = (path = "") => `${h.base}/v1/models${path}`;
  const putBlob = (data: Buffer, path: string, headers: Record<string, string> = {}, f = h.fetch) =>
    f(`${models("/blobs")}?path=${encodeURIComponent(path)}`, {
      method: "POST",
      headers: { "content-type": "application/octet-stream", ...headers },
      body: data,
    });
  const publish = (type: string, version: string, body: unknown, f = h.fetch) =>
    f(models(`/${type}/${version}`), { ...jsonPost(body), method: "PUT" });
  /** Uploads each file, then publishes the version; returns the manifest. */
  async function push(type: string, version: string, files: Record<string, Buffer>, metadata = {}) {
    const manifest = [];
    for (const [path, data] of Object.entries(files)) {
      const res = await putBlob(data, path);
      expect([200, 201], await res.clone().text()).toContain(res.status);
      manifest.push({ path, sha256: (await json<BlobJson>(res)).sha256 });
    }
    const res = await publish(type, version, { files: manifest, metadata });
    expect(res.status, await res.clone().text()).toBe(201);
    return json<VersionJson>(res);
  }
  async function storedBlobs(): Promise<Map<string, number>> {
    const out = new Map<string, number>();
    let cursor: string | undefined;
    do {
      const page = await h.app.store.list(bucket, { prefix: "blobs/", ...(cursor ? { cursor } : {}) });
      for (const o of page.objects) out.set(o.key, o.size);
      cursor = page.nextCursor;
    } while (cursor);
    return out;
  }
  const total = (m: Map<string, number>) => [...m.values()].reduce((a, b) => a + b, 0);

  it("pushes v1 with three files and v2 sharing two: blobs/ grows by the changed file only", async () => {
    const config = Buffer.from(
      JSON.stringify({ vocab: Array.from({ length: 3000 }, (_, i) => `token-${i}`) }),
    );
    const readme = Buffer.from("# sentiment\n".repeat(500));
    const w1 = uploadableBytes(400_000);
    const w2 = uploadableBytes(400_000);
    const before = await storedBlobs();
    const v1 = await push("sentiment", "1.0.0", {
      "config.json": config,
      "README.md": readme,
      "model.safetensors": w1,
    });
    expect(v1.aliases).toEqual(["latest"]);
    const afterV1 = await storedBlobs();
    expect(afterV1.size - before.size).toBe(3);
    const compressed = v1.files.find((f) => f.path === "config.json");
    expect(compressed?.storedSize).toBeLessThan(config.length);

    // Announced digests of stored blobs: answered before the body, nothing new kept.
    for (const data of [config, readme]) {
      const res = await putBlob(data, "x", { "x-checksum-sha256": sha256Of(data) });
      expect(res.status).toBe(200);
      expect(await json<BlobJson>(res)).toMatchObject({ deduplicated: true, size: data.length });
    }
    const v2 = await push("sentiment", "1.1.0", {
      "config.json": config,
      "README.md": readme,
      "model.safetensors": w2,
    });
    const afterV2 = await storedBlobs();
    expect(afterV2.size - afterV1.size).toBe(1);
    expect(total(afterV2) - total(afterV1)).toBe(w2.length);
    expect(v2.aliases).toEqual(["latest"]);
    expect((await json<VersionJson>(await h.fetch(models("/sentiment/1.0.0")))).aliases).toEqual([]);
  });

  it("answers a known announced digest before the body is sent", async () => {
    const data = uploadableBytes(20_000);
    expect((await putBlob(data, "a.bin")).status).toBe(201);
    const url = new URL(models("/blobs"));
    const answer = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = httpRequest(
        url,
        {
          method: "POST",
          headers: {
            authorization: `Bearer ${h.token}`,
            "content-type": "application/octet-stream",
            "content-length": String(data.length),
            "x-checksum-sha256": sha256Of(data),
          },
        },
        (res) => {
          let body = "";
          res.setEncoding("utf8").on("data", (c: string) => {
            body += c;
          });
          res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
        },
      );
      req.on("error", reject);
      // Only a first slice of the body, and never the end: the answer cannot depend on it.
      req.write(data.subarray(0, 100));
    });
    expect(answer.status).toBe(200);
    expect(JSON.parse(answer.body)).toMatchObject({ sha256: sha256Of(data), deduplicated: true });
  });

  it("serves a file with its sha256 in ETag, Digest and Repr-Digest, by version, alias or latest", async () => {
    const data = uploadableBytes(100_000);
    await push("digest", "v1", { "weights/model.bin": data });
    const hex = sha256Of(data);
    const b64 = Buffer.from(hex, "hex").toString("base64");
    for (const ref of ["v1", "latest"]) {
      const res = await h.fetch(models(`/digest/${ref}/files/weights/model.bin`));
      expect(res.status).toBe(200);
      expect(res.headers.get("etag")).toBe(`"${hex}"`);
      expect(res.headers.get("digest")).toBe(`sha-256=${b64}`);
      expect(res.headers.get("repr-digest")).toBe(`sha-256=:${b64}:`);
      expect(res.headers.get("content-length")).toBe(String(data.length));
      expect(sha256Of(Buffer.from(await res.arrayBuffer()))).toBe(hex);
    }
    const cached = await h.fetch(models("/digest/v1/files/weights/model.bin"), {
      headers: { "if-none-match": `"${hex}"` },
    });
    expect(cached.status).toBe(304);
    await expectProblem(await h.fetch(models("/digest/v1/files/weights/other.bin")), 404, "NOT_FOUND");
    await expectProblem(await h.fetch(models("/digest/v1/files/weights/..%2Fx")), 400, "INVALID_ARGUMENT");
  });

  it("cuts a download short when the stored blob was corrupted behind the service's back", async () => {
    const data = uploadableBytes(300_000);
    await push("corrupt", "v1", { "model.safetensors": data });
    const forged = Buffer.from(data);
    forged[150_000] = (forged[150_000] ?? 0) ^ 0x01;
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: blobKey(sha256Of(data)), Body: forged }));
    const got = await download(models("/corrupt/v1/files/model.safetensors"), h.token);
    expect(got.complete && got.bytes.length === got.contentLength).toBe(false);
    expect(got.bytes.length).toBeLessThan(data.length);
  });

  it("moves aliases; refuses to delete an aliased version unless forced", async () => {
    await push("alias", "v1", { "m.txt": Buffer.from("one\n") });
    await push("alias", "v2", { "m.txt": Buffer.from("two\n") });
    const setAlias = (alias: string, version: string) =>
      h.fetch(models(`/alias/aliases/${alias}`), { ...jsonPost({ version }), method: "PUT" });
    expect((await setAlias("production", "v1")).status).toBe(200);
    const prod = await h.fetch(models("/alias/production/files/m.txt"));
    expect(await prod.text()).toBe("one\n");
    const refused = await expectProblem(
      await h.fetch(models("/alias/v1"), { method: "DELETE" }),
      412,
      "PRECONDITION_FAILED",
    );
    expect(refused.detail).toContain("production");
    expect((await h.fetch(models("/alias/v1"))).status).toBe(200);
    expect((await h.fetch(models("/alias/v1?force=true"), { method: "DELETE" })).status).toBe(204);
    await expectProblem(await h.fetch(models("/alias/production")), 404, "NOT_FOUND");
    expect((await json<VersionJson>(await h.fetch(models("/alias/latest")))).version).toBe("v2");
    await expectProblem(await setAlias("latest", "v2"), 400, "INVALID_ARGUMENT");
    expect((await setAlias("staging", "v2")).status).toBe(200);
    expect((await h.fetch(models("/alias/aliases/staging"), { method: "DELETE" })).status).toBe(204);
    await expectProblem(
      await h.fetch(models("/alias/aliases/staging"), { method: "DELETE" }),
      404,
      "NOT_FOUND",
    );
  });

  it("gc: a dry run by default, apply deletes exactly the unreferenced blobs", async () => {
    const gc = (body: unknown) => h.fetch(models("/gc"), jsonPost(body));
    await gc({ apply: true, graceSeconds: 0 });
    const orphan = uploadableBytes(33_333);
    expect((await putBlob(orphan, "orphan.bin")).status).toBe(201);
    const dry = await json<{ blobs: number; bytes: number; deleted: boolean; keys: string[] }>(
      await gc({ graceSeconds: 0 }),
    );
    expect(dry).toEqual({
      blobs: 1,
      bytes: orphan.length,
      deleted: false,
      keys: [blobKey(sha256Of(orphan))],
    });
    expect((await storedBlobs()).has(blobKey(sha256Of(orphan)))).toBe(true);
    const applied = await json<{ blobs: number; bytes: number; deleted: boolean }>(
      await gc({ apply: true, graceSeconds: 0 }),
    );
    expect(applied).toMatchObject({ blobs: 1, bytes: orphan.length, deleted: true });
    expect((await storedBlobs()).has(blobKey(sha256Of(orphan)))).toBe(false);
    expect(await json(await gc({ apply: true, graceSeconds: 0 }))).toMatchObject({ blobs: 0, bytes: 0 });
    expect((await h.fetch(models(`/blobs/${sha256Of(orphan)}`), { method: "HEAD" })).status).toBe(404);
  });

  it("lists with filters and pages", async () => {
    await push("list-a", "1", { "m.txt": Buffer.from("a1\n") }, { tags: ["nlp"], extra: { team: "search" } });
    const after = new Date().toISOString();
    await push("list-a", "2", { "m.txt": Buffer.from("a2\n") }, { tags: ["nlp", "large"], framework: "jax" });
    await push(
      "list-b",
      "1",
      { "m.txt": Buffer.from("b1\n") },
      { tags: ["vision"], extra: { team: "search" } },
    );
    const names = async (query: string) =>
      (await json<{ versions: VersionJson[] }>(await h.fetch(models(`?${query}`)))).versions.map(
        (v) => `${v.modelType}@${v.version}`,
      );
    expect(await names("type=list-a")).toEqual(["list-a@2", "list-a@1"]);
    expect(await names("tag=large")).toEqual(["list-a@2"]);
    expect(await names("metadata=team%3Dsearch")).toEqual(["list-b@1", "list-a@1"]);
    expect(await names(`createdAfter=${encodeURIComponent(after)}&tag=nlp`)).toEqual(["list-a@2"]);
    const paged: string[] = [];
    let cursor: string | undefined;
    do {
      const page = await json<{ versions: VersionJson[]; nextCursor?: string }>(
        await h.fetch(models(`?limit=2${cursor ? `&cursor=${cursor}` : ""}`)),
      );
      expect(page.versions.length).toBeLessThanOrEqual(2);
      paged.push(...page.versions.map((v) => `${v.modelType}@${v.version}`));
      cursor = page.nextCursor;
    } while (cursor);
    expect(paged).toEqual(await names("limit=1000"));
    expect(paged.length).toBeGreaterThan(3);
    await expectProblem(await h.fetch(models("?metadata=novalue")), 400, "INVALID_ARGUMENT");
  });

  it("confines a key to its model type, blob uploads to blobs/, and gc to admins", async () => {
    const data = Buffer.from("scoped\n");
    await push("scoped", "v1", { "m.txt": data });
    const reader = await h.createKey("reader", [`${bucket}/scoped/:read`]);
    const as =
      (token: string): typeof fetch =>
      (input, init = {}) =>
        fetch(input, {
          ...init,
          headers: { ...(init.headers as Record<string, string>), authorization: `Bearer ${token}` },
        });
    expect((await as(reader)(models("/scoped/v1/files/m.txt"))).status).toBe(200);
    await expectProblem(await as(reader)(models("/alias/latest")), 403, "PERMISSION_DENIED");
    await expectProblem(
      await as(reader)(models("/scoped/v1"), { method: "DELETE" }),
      403,
      "PERMISSION_DENIED",
    );
    await expectProblem(await as(reader)(models("/gc"), jsonPost({})), 403, "PERMISSION_DENIED");
    await expectProblem(await putBlob(data, "m.txt", {}, as(reader)), 403, "PERMISSION_DENIED");
    // Write on blobs/ without read: bytes go up, but naming a blob by its hash (a declared digest
    // that may be answered with the stored blob, or a manifest) is refused: a hash grants nothing.
    const blind = await h.createKey("blind", [`${bucket}/blobs/:write`, `${bucket}/scoped/:write,read`]);
    expect((await putBlob(Buffer.from("new\n"), "m.txt", {}, as(blind))).status).toBe(201);
    await expectProblem(
      await putBlob(data, "m.txt", { "x-checksum-sha256": sha256Of(data) }, as(blind)),
      403,
      "PERMISSION_DENIED",
    );
    const manifest = { files: [{ path: "m.txt", sha256: sha256Of("new\n") }] };
    await expectProblem(await publish("scoped", "v2", manifest, as(blind)), 403, "PERMISSION_DENIED");
    await expectProblem(await h.fetch(models("/scoped/v2")), 404, "NOT_FOUND");
    const writer = await h.createKey("writer", [
      `${bucket}/blobs/:write,read`,
      `${bucket}/scoped/:write,read`,
    ]);
    const known = await putBlob(data, "m.txt", { "x-checksum-sha256": sha256Of(data) }, as(writer));
    expect(known.status).toBe(200);
    expect(await json<BlobJson>(known)).toMatchObject({ deduplicated: true });
    const v2 = await publish("scoped", "v2", manifest, as(writer));
    expect(v2.status).toBe(201);
    expect((await json<VersionJson>(v2)).uploader).toBe("writer");
  });

  it("refuses a stored blob announced with another size, before reading the body", async () => {
    // A stored blob announced with another size: refused (before the body is read), nothing kept.
    const stored = uploadableBytes(5_000);
    expect((await putBlob(stored, "s.bin")).status).toBe(201);
    const storedBefore = await storedBlobs();
    const wrongSize = await expectProblem(
      await putBlob(Buffer.concat([stored, Buffer.from("x")]), "s.bin", {
        "x-checksum-sha256": sha256Of(stored),
      }),
      412,
      "PRECONDITION_FAILED",
    );
    expect(wrongSize.detail).toContain(
      `stored with ${stored.length} bytes, not the declared ${stored.length + 1}`,
    );
    expect(await storedBlobs()).toEqual(storedBefore);
  });

  it("refuses bad input with typed errors and stores nothing", async () => {
    const before = await storedBlobs();
    const data = Buffer.from("content\n");
    const ok = { files: [{ path: "a.txt", sha256: sha256Of(data) }] };
    await expectProblem(await publish("Bad_Type", "v1", ok), 400, "INVALID_ARGUMENT");
    await expectProblem(await publish("blobs", "v1", ok), 400, "INVALID_ARGUMENT");
    await expectProblem(await publish("ok", "latest", ok), 400, "INVALID_ARGUMENT");
    await expectProblem(
      await publish("ok", "v1", { files: [{ path: "../../etc/passwd", sha256: sha256Of(data) }] }),
      400,
      "INVALID_ARGUMENT",
    );
    const unknown = await expectProblem(await publish("ok", "v1", ok), 412, "PRECONDITION_FAILED");
    expect(unknown.detail).toContain(sha256Of(data));
    await expectProblem(await publish("ok", "v1", { files: [] }), 400, "INVALID_ARGUMENT");
    await expectProblem(
      await putBlob(data, "a.txt", { "x-checksum-sha256": sha256Of("something else") }),
      412,
      "PRECONDITION_FAILED",
    );
    await expectProblem(
      await putBlob(data, "a.txt", { "x-checksum-sha256": "nothex" }),
      400,
      "INVALID_ARGUMENT",
    );
    await expectProblem(await putBlob(data, "../a.txt"), 400, "INVALID_ARGUMENT");
    expect((await h.fetch(models("/blobs/nothex"), { method: "HEAD" })).status).toBe(400);
    expect(await storedBlobs()).toEqual(before);
    expect((await json<{ versions: unknown[] }>(await h.fetch(models("?type=ok")))).versions).toEqual([]);
    const staged = await h.app.store.list(bucket, { prefix: "staging/" });
    expect(staged.objects).toEqual([]);
  });
});
