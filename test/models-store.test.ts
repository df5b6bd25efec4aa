import {
  DeleteBucketEncryptionCommand,
  HeadObjectCommand,
  ListObjectVersionsCommand,
  PutObjectCommand,
  type S3Client,
} from "@aws-sdk/client-s3";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createS3Client } from "../src/backends/s3/client.ts";
import { isStorageError, type StorageError } from "../src/errors.ts";
import { blobKey, createModelStore, type ModelStore } from "../src/stores/models/index.ts";
import { createTestApp, type TestApp } from "./support/app.ts";
import { bufferStream, collect, sha256Of, uploadableBytes } from "./support/data.ts";

/**
 * The model store on the shared MinIO (with SSE-S3, compression and encryption on, the defaults)
 * and PostgreSQL or PGlite: dedup measured by listing blobs/ in the store itself, corruption made
 * behind the service's back with the S3 client, compression and SSE checked on the stored objects,
 * aliases, gc to the byte, filters and pages, and bad input that writes nothing.
 */

const OWNER = "models-test";
const json = (n: number) =>
  Buffer.from(
    JSON.stringify({ layers: Array.from({ length: n }, (_, i) => ({ name: `layer-${i}`, units: 128 })) }),
  );

async function failureOf(promise: Promise<unknown>): Promise<StorageError> {
  try {
    await promise;
  } catch (err) {
    if (isStorageError(err)) return err;
    throw err;
  }
  throw new Error("expected a StorageError, but the call succeeded");
}

describe("model store on MinIO", () => {
  let app: TestApp;
  let models: ModelStore;
  let s3: S3Client;
  let bucket: string;

  beforeAll(async () => {
    app = await createTestApp("minio");
    models = app.models;
    s3 = createS3Client(app.config.s3);
    bucket = app.config.buckets.modelArtifacts;
  });
  afterAll(async () => {
    s3?.destroy();
    await app?.dispose();
  });

  /** What the store itself holds under a prefix: key → size (not the service's index). */
  async function stored(prefix: string): Promise<Map<string, number>> {
    const out = new Map<string, number>();
    let cursor: string | undefined;
    do {
      const page = await app.store.list(bucket, { prefix, ...(cursor ? { cursor } : {}) });
      for (const o of page.objects) out.set(o.key, o.size);
      cursor = page.nextCursor;
    } while (cursor);
    return out;
  }
  const total = (m: Map<string, number>) => [...m.values()].reduce((a, b) => a + b, 0);
  const file = (path: string, data: Buffer) => ({ path, body: bufferStream(data), size: data.length });
  /** Byte-for-byte, compared as sha256 and length (toEqual on MiB-sized Buffers is very slow). */
  const expectSame = (got: Buffer, want: Buffer) =>
    expect({ size: got.length, sha256: sha256Of(got) }).toEqual({
      size: want.length,
      sha256: sha256Of(want),
    });
  const read = async (type: string, ref: string, path: string) =>
    collect((await models.openFile(type, ref, path)).body);

  it("stores a shared file once: v2 sharing two of v1's three files grows blobs/ by the changed one only", async () => {
    const config = json(200);
    const tokenizer = Buffer.from("hello world\n".repeat(2000));
    const weights1 = uploadableBytes(300_000);
    const weights2 = uploadableBytes(300_000);
    const before = await stored("blobs/");
    const v1 = await models.push(
      "dedup",
      "v1",
      [file("config.json", config), file("tokenizer.txt", tokenizer), file("model.safetensors", weights1)],
      { framework: "pytorch" },
      OWNER,
    );
    expect(v1.files.map((f) => f.path)).toEqual(["config.json", "model.safetensors", "tokenizer.txt"]);
    const afterV1 = await stored("blobs/");
    expect(afterV1.size - before.size).toBe(3);

    const v2 = await models.push(
      "dedup",
      "v2",
      [file("config.json", config), file("tokenizer.txt", tokenizer), file("model.safetensors", weights2)],
      { parentVersion: "v1" },
      OWNER,
    );
    const afterV2 = await stored("blobs/");
    const changed = v2.files.find((f) => f.path === "model.safetensors");
    expect(afterV2.size - afterV1.size).toBe(1);
    expect(total(afterV2) - total(afterV1)).toBe(changed?.storedSize);
    expect(afterV2.get(blobKey(sha256Of(weights2)))).toBe(weights2.length);
    expect(v2.files.filter((f) => v1.files.some((g) => g.sha256 === f.sha256)).map((f) => f.path)).toEqual([
      "config.json",
      "tokenizer.txt",
    ]);
    expectSame(await read("dedup", "v2", "model.safetensors"), weights2);
    expectSame(await read("dedup", "v1", "model.safetensors"), weights1);
    expect((await stored("staging/")).size).toBe(0);
  });

  it("deduplicates a blob by its declared sha256 without reading the body, and by content otherwise", async () => {
    const data = uploadableBytes(50_000);
    const first = await models.putBlob({ body: bufferStream(data), path: "w.bin" }, OWNER);
    expect(first).toMatchObject({ sha256: sha256Of(data), size: data.length, deduplicated: false });
    const again = await models.putBlob({ body: bufferStream(data), path: "w.bin" }, OWNER);
    expect(again.deduplicated).toBe(true);
    let pulled = false;
    const untouched = bufferStream(data).on("data", () => {
      pulled = true;
    });
    untouched.pause();
    const known = await models.putBlob({ body: untouched, path: "w.bin", sha256: sha256Of(data) }, OWNER);
    expect(known).toMatchObject({ deduplicated: true, size: data.length });
    expect(await models.hasBlob(sha256Of(data))).toEqual({
      size: data.length,
      storedSize: data.length,
      encoding: "identity",
    });
    expect(await models.hasBlob("0".repeat(64))).toBeUndefined();
    expect((await stored("staging/")).size).toBe(0);
    // Resumed (drained), never read into a second blob.
    expect(pulled || untouched.readableFlowing === true).toBe(true);
  });

  it("compresses a JSON file and stores random weights as they are; both round-trip byte for byte", async () => {
    const config = json(5000);
    const weights = uploadableBytes(2 * 1024 * 1024 + 17);
    const v = await models.push(
      "compress",
      "1.0.0",
      [file("config.json", config), file("model.safetensors", weights), file("noext", uploadableBytes(5000))],
      {},
      OWNER,
    );
    const byPath = new Map(v.files.map((f) => [f.path, f]));
    const cfg = byPath.get("config.json");
    expect(cfg?.encoding).not.toBe("identity");
    expect(cfg?.storedSize).toBeLessThan(config.length * 0.5);
    const blobs = await stored("blobs/");
    expect(blobs.get(blobKey(sha256Of(config)))).toBe(cfg?.storedSize);
    expect(byPath.get("model.safetensors")).toMatchObject({
      encoding: "identity",
      storedSize: weights.length,
    });
    expect(blobs.get(blobKey(sha256Of(weights)))).toBe(weights.length);
    // No extension: the probe finds random bytes do not compress.
    expect(byPath.get("noext")?.encoding).toBe("identity");
    expectSame(await read("compress", "latest", "config.json"), config);
    expectSame(await read("compress", "1.0.0", "model.safetensors"), weights);
  });

  it("fails a download with DATA_CORRUPTED when a blob is overwritten behind the service's back", async () => {
    const weights = uploadableBytes(200_000);
    const config = json(3000);
    const v = await models.push(
      "corrupt",
      "v1",
      [file("model.safetensors", weights), file("config.json", config)],
      {},
      OWNER,
    );
    expect(v.files.find((f) => f.path === "config.json")?.encoding).not.toBe("identity");
    const forged = Buffer.from(weights);
    forged[100_000] = (forged[100_000] ?? 0) ^ 0xff;
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: blobKey(sha256Of(weights)), Body: forged }));
    const err = await failureOf(read("corrupt", "v1", "model.safetensors"));
    expect(err.code).toBe("DATA_CORRUPTED");
    expect(err.message).toContain(sha256Of(weights));

    // A compressed blob replaced by bytes that are not gzip/zstd at all.
    const cfg = v.files.find((f) => f.path === "config.json");
    await s3.send(
      new PutObjectCommand({
        Bucket: bucket,
        Key: blobKey(sha256Of(config)),
        Body: Buffer.from("not compressed at all"),
        Metadata: { encoding: cfg?.encoding ?? "gzip", "original-size": String(config.length) },
      }),
    );
    expect((await failureOf(read("corrupt", "v1", "config.json"))).code).toBe("DATA_CORRUPTED");
  });

  it("has SSE on every object it stored", async () => {
    let keyMarker: string | undefined;
    let versionMarker: string | undefined;
    let checked = 0;
    do {
      const page = await s3.send(
        new ListObjectVersionsCommand({
          Bucket: bucket,
          KeyMarker: keyMarker,
          VersionIdMarker: versionMarker,
        }),
      );
      for (const v of page.Versions ?? []) {
        const head = await s3.send(
          new HeadObjectCommand({ Bucket: bucket, Key: v.Key, VersionId: v.VersionId }),
        );
        expect({ key: v.Key, sse: head.ServerSideEncryption }).toEqual({ key: v.Key, sse: "AES256" });
        checked++;
      }
      keyMarker = page.IsTruncated ? page.NextKeyMarker : undefined;
      versionMarker = page.IsTruncated ? page.NextVersionIdMarker : undefined;
    } while (keyMarker);
    expect(checked).toBeGreaterThan(5);
  });

  it("refuses to serve, naming MODEL_STORAGE_ENCRYPTION, when the bucket has no default encryption", async () => {
    await s3.send(new DeleteBucketEncryptionCommand({ Bucket: bucket }));
    try {
      const fresh = createModelStore({
        service: app.service,
        db: app.db,
        config: app.config,
        logger: pino({ level: "silent" }),
        ...(app.admin ? { admin: app.admin } : {}),
      });
      const err = await failureOf(fresh.list({}));
      expect(err.code).toBe("UNAVAILABLE");
      expect(err.message).toContain("MODEL_STORAGE_ENCRYPTION");
      const blob = await failureOf(fresh.putBlob({ body: bufferStream("x"), path: "a.txt" }, OWNER));
      expect(blob.code).toBe("UNAVAILABLE");
    } finally {
      await app.bootstrap();
    }
    const fresh = createModelStore({
      service: app.service,
      db: app.db,
      config: app.config,
      logger: pino({ level: "silent" }),
      ...(app.admin ? { admin: app.admin } : {}),
    });
    await expect(fresh.list({ modelType: "dedup" })).resolves.toMatchObject({ versions: expect.any(Array) });
  });

  it("keeps aliases: production follows a version, deleting it is refused unless forced, latest moves", async () => {
    const push = (version: string) =>
      models.push("alias", version, [file("m.txt", Buffer.from(`model ${version}\n`))], {}, OWNER);
    await push("v1");
    await push("v2");
    expect((await models.get("alias", "latest")).version).toBe("v2");
    await models.setAlias("alias", "production", "v1");
    expect((await models.get("alias", "production")).version).toBe("v1");
    expect((await models.get("alias", "v1")).aliases).toEqual(["production"]);
    expect(await collect((await models.openFile("alias", "production", "m.txt")).body)).toEqual(
      Buffer.from("model v1\n"),
    );

    const refused = await failureOf(models.deleteVersion("alias", "v1", {}));
    expect(refused.code).toBe("PRECONDITION_FAILED");
    expect(refused.message).toContain("production");
    expect((await models.get("alias", "v1")).version).toBe("v1");

    await models.setAlias("alias", "production", "v2");
    expect((await models.get("alias", "v2")).aliases).toEqual(["latest", "production"]);
    await models.deleteVersion("alias", "v1", {});
    expect((await failureOf(models.get("alias", "v1"))).code).toBe("NOT_FOUND");

    await push("v3");
    expect((await models.get("alias", "latest")).version).toBe("v3");
    await models.deleteVersion("alias", "v2", { force: true });
    expect((await failureOf(models.get("alias", "production"))).code).toBe("NOT_FOUND");
    // latest is not an alias that holds a version back: deleting the newest moves it.
    await push("v4");
    await models.deleteVersion("alias", "v4", {});
    expect((await models.get("alias", "latest")).version).toBe("v3");

    expect((await failureOf(models.setAlias("alias", "latest", "v3"))).code).toBe("INVALID_ARGUMENT");
    expect((await failureOf(models.setAlias("alias", "staging", "v9"))).code).toBe("NOT_FOUND");
    expect((await failureOf(models.setAlias("alias", "v3", "v3"))).code).toBe("ALREADY_EXISTS");
    await models.setAlias("alias", "staging", "v3");
    await models.removeAlias("alias", "staging");
    expect((await failureOf(models.removeAlias("alias", "staging"))).code).toBe("NOT_FOUND");
  });

  it("gc frees exactly the unreferenced bytes: dry run reports, apply deletes, a second run finds nothing", async () => {
    // Start from a bucket whose every blob is referenced.
    await models.gc({ dryRun: false, graceSeconds: 0 });
    const kept = uploadableBytes(10_000);
    const dropped = [uploadableBytes(70_000), json(4000)];
    await models.push(
      "gc-test",
      "v1",
      [file("kept.bin", kept), file("a.bin", dropped[0] as Buffer)],
      {},
      OWNER,
    );
    await models.push(
      "gc-test",
      "v2",
      [file("kept.bin", kept), file("b.json", dropped[1] as Buffer)],
      {},
      OWNER,
    );
    await models.deleteVersion("gc-test", "v1", {});
    await models.deleteVersion("gc-test", "v2", {});
    await models.push("gc-test", "v3", [file("kept.bin", kept)], {}, OWNER);
    const before = await stored("blobs/");
    const expectedKeys = dropped.map((d) => blobKey(sha256Of(d))).sort();
    const expectedBytes = expectedKeys.reduce((sum, k) => sum + (before.get(k) ?? -1), 0);

    // Within the grace period nothing is taken.
    expect(await models.gc({ dryRun: true })).toMatchObject({ blobs: 0, bytes: 0, deleted: false });
    const dry = await models.gc({ dryRun: true, graceSeconds: 0 });
    expect({ ...dry, keys: [...dry.keys].sort() }).toEqual({
      blobs: 2,
      bytes: expectedBytes,
      deleted: false,
      keys: expectedKeys,
    });
    expect(await stored("blobs/")).toEqual(before);

    const applied = await models.gc({ dryRun: false, graceSeconds: 0 });
    expect(applied).toMatchObject({ blobs: 2, bytes: expectedBytes, deleted: true });
    const after = await stored("blobs/");
    expect(total(before) - total(after)).toBe(expectedBytes);
    expect([...before.keys()].filter((k) => !after.has(k)).sort()).toEqual(expectedKeys);
    // Every version of a deleted blob is gone from the versioned bucket, not hidden by a marker.
    const versions = await s3.send(
      new ListObjectVersionsCommand({ Bucket: bucket, Prefix: expectedKeys[0] }),
    );
    expect([...(versions.Versions ?? []), ...(versions.DeleteMarkers ?? [])]).toEqual([]);

    expect(await models.gc({ dryRun: false, graceSeconds: 0 })).toMatchObject({ blobs: 0, bytes: 0 });
    expectSame(await read("gc-test", "v3", "kept.bin"), kept);
  });

  it("lists with filters and pages", async () => {
    const push = (type: string, version: string, metadata: Parameters<ModelStore["push"]>[3]) =>
      models.push(type, version, [file("m.txt", Buffer.from(`${type} ${version}\n`))], metadata, OWNER);
    await push("filter-a", "1", { tags: ["nlp", "small"], framework: "onnx", extra: { team: "search" } });
    const cutoff = new Date();
    await push("filter-a", "2", { tags: ["nlp"], framework: "jax", extra: { team: "ads" } });
    await push("filter-b", "1", { tags: ["vision"], extra: { team: "search" } });
    const names = (r: { versions: { modelType: string; version: string }[] }) =>
      r.versions.map((v) => `${v.modelType}@${v.version}`);

    expect(names(await models.list({ modelType: "filter-a" }))).toEqual(["filter-a@2", "filter-a@1"]);
    expect(names(await models.list({ tag: "nlp" }))).toEqual(["filter-a@2", "filter-a@1"]);
    expect(names(await models.list({ tag: "vision" }))).toEqual(["filter-b@1"]);
    expect(names(await models.list({ metadata: { key: "team", value: "search" } }))).toEqual([
      "filter-b@1",
      "filter-a@1",
    ]);
    expect(names(await models.list({ metadata: { key: "framework", value: "jax" } }))).toEqual([
      "filter-a@2",
    ]);
    const recent = names(await models.list({ createdAfter: cutoff }));
    expect(recent).toEqual(["filter-b@1", "filter-a@2"]);

    const seen: string[] = [];
    let cursor: string | undefined;
    let pages = 0;
    do {
      const page = await models.list({ limit: 2, ...(cursor ? { cursor } : {}) });
      expect(page.versions.length).toBeLessThanOrEqual(2);
      seen.push(...names(page));
      cursor = page.nextCursor;
      pages++;
    } while (cursor);
    const all = names(await models.list({ limit: 1000 }));
    expect(seen).toEqual(all);
    expect(pages).toBe(Math.ceil(all.length / 2));
    expect((await failureOf(models.list({ cursor: "bm90LWFuLWlk" }))).code).toBe("INVALID_ARGUMENT");
  });

  it("refuses bad input with typed errors and writes nothing", async () => {
    const before = await stored("");
    const data = Buffer.from("weights\n");
    const bad = async (promise: Promise<unknown>, code: string, field?: string) => {
      const err = await failureOf(promise);
      expect({ code: err.code, field: err.details.field }).toMatchObject({
        code,
        ...(field ? { field } : {}),
      });
    };
    await bad(
      models.push("Bad Type", "v1", [file("a.txt", data)], {}, OWNER),
      "INVALID_ARGUMENT",
      "modelType",
    );
    await bad(models.push("blobs", "v1", [file("a.txt", data)], {}, OWNER), "INVALID_ARGUMENT", "modelType");
    await bad(models.push("ok", "../v1", [file("a.txt", data)], {}, OWNER), "INVALID_ARGUMENT", "version");
    await bad(models.push("ok", "latest", [file("a.txt", data)], {}, OWNER), "INVALID_ARGUMENT", "version");
    await bad(models.push("ok", "v1", [file("../etc/passwd", data)], {}, OWNER), "INVALID_ARGUMENT", "path");
    await bad(models.push("ok", "v1", [file("/abs.txt", data)], {}, OWNER), "INVALID_ARGUMENT", "path");
    await bad(models.push("ok", "v1", [file("a\\b.txt", data)], {}, OWNER), "INVALID_ARGUMENT", "path");
    await bad(
      models.push("ok", "v1", [file("a.txt", data), file("a.txt", data)], {}, OWNER),
      "INVALID_ARGUMENT",
      "path",
    );
    await bad(models.push("ok", "v1", [], {}, OWNER), "INVALID_ARGUMENT", "files");
    await bad(
      models.push("ok", "v1", [file("a.txt", data)], { tags: ["no spaces"] } as never, OWNER),
      "INVALID_ARGUMENT",
    );
    await bad(
      models.publish("ok", "v1", [{ path: "a.txt", sha256: "1".repeat(64) }], {}, OWNER),
      "PRECONDITION_FAILED",
      "files",
    );
    await bad(models.publish("ok", "v1", [{ path: "a.txt", sha256: "xyz" }], {}, OWNER), "INVALID_ARGUMENT");
    await bad(
      models.putBlob({ body: bufferStream(data), path: "a.txt", sha256: "2".repeat(64) }, OWNER),
      "PRECONDITION_FAILED",
      "sha256",
    );
    await bad(
      models.putBlob({ body: bufferStream(data), path: "a.txt", size: data.length + 1 }, OWNER),
      "PRECONDITION_FAILED",
      "size",
    );
    await bad(models.openFile("dedup", "v1", "../config.json"), "INVALID_ARGUMENT", "path");
    await bad(models.openFile("dedup", "v1", "missing.json"), "NOT_FOUND", "path");
    await bad(models.get("dedup", "v404"), "NOT_FOUND");
    await bad(models.gc({ dryRun: true, graceSeconds: -1 }), "INVALID_ARGUMENT", "graceSeconds");
    expect(await stored("")).toEqual(before);
    expect((await models.list({ modelType: "ok" })).versions).toEqual([]);

    // Versions never change.
    await models.push("once", "v1", [file("a.txt", data)], {}, OWNER);
    await bad(models.push("once", "v1", [file("a.txt", Buffer.from("other"))], {}, OWNER), "ALREADY_EXISTS");
    expectSame(await read("once", "v1", "a.txt"), data);
  });

  it("publishes a blob that reached blobs/sha256/<hex> as an ordinary object (as an upload session leaves it)", async () => {
    const data = uploadableBytes(40_000);
    const hex = sha256Of(data);
    await app.service.upload({
      bucket,
      key: blobKey(hex),
      body: bufferStream(data),
      expectedSha256: hex,
      owner: OWNER,
    });
    expect(await models.hasBlob(hex)).toMatchObject({ size: data.length });
    const v = await models.publish("session", "v1", [{ path: "weights/model.bin", sha256: hex }], {}, OWNER);
    expect(v.files).toEqual([
      {
        path: "weights/model.bin",
        size: data.length,
        sha256: hex,
        storedSize: data.length,
        encoding: "identity",
      },
    ]);
    expectSame(await read("session", "v1", "weights/model.bin"), data);
  });
});

describe("model store on the local backend (the zero-setup default)", () => {
  let app: TestApp;
  beforeAll(async () => {
    // MODEL_STORAGE_ENCRYPTION and _COMPRESSION keep their defaults (true): encryption is not
    // enforced on a backend without server-side encryption, so `npm start` works with no setup.
    app = await createTestApp("local");
  });
  afterAll(async () => {
    await app?.dispose();
  });

  it("pushes, dedups, reads and collects garbage without MinIO", async () => {
    // Content of its own: this suite's MinIO bucket has the same name, so the registry is shared.
    const config = json(3001);
    const w = uploadableBytes(100_000);
    const put = (path: string, data: Buffer) => ({ path, body: bufferStream(data) });
    const v1 = await app.models.push("local", "v1", [put("config.json", config), put("w.bin", w)], {}, OWNER);
    expect(v1.files.find((f) => f.path === "config.json")?.encoding).not.toBe("identity");
    const blob = await app.models.putBlob({ body: bufferStream(w), path: "w.bin" }, OWNER);
    expect(blob.deduplicated).toBe(true);
    const got = await collect((await app.models.openFile("local", "latest", "config.json")).body);
    expect(sha256Of(got)).toBe(sha256Of(config));
    await app.models.deleteVersion("local", "v1", {});
    expect(await app.models.gc({ dryRun: false, graceSeconds: 0 })).toMatchObject({
      blobs: 2,
      deleted: true,
    });
    expect((await app.store.list(app.config.buckets.modelArtifacts, {})).objects).toEqual([]);
  });
});
