import { createHash, randomBytes } from "node:crypto";
import { mkdtemp, readdir, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { Readable } from "node:stream";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { StorageError } from "../../errors.ts";
import type { WriteCondition } from "../write-condition.ts";
import { LocalStore } from "./local-store.ts";

const B = "photos";
const opts = { contentType: "application/octet-stream", metadata: {} };
let root: string;
let store: LocalStore;

beforeEach(async () => {
  root = await mkdtemp(path.join(os.tmpdir(), "local-store-"));
  store = new LocalStore(root);
  await store.createBucket(B);
});
afterEach(async () => {
  await store.close();
  await rm(root, { recursive: true, force: true });
});

const text = async (body: Readable) => Buffer.concat(await body.toArray()).toString("utf8");
const md5 = (b: Buffer | string) => `"${createHash("md5").update(b).digest("hex")}"`;
const tmpEntries = () => readdir(path.join(root, ".tmp"));

/** Rejects with a StorageError of this code. */
async function expectCode(p: Promise<unknown>, code: string): Promise<StorageError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(StorageError);
  expect((err as StorageError).code).toBe(code);
  return err as StorageError;
}

/** Chunks of `chunk` bytes, pausing between them so a test can act mid-stream. */
function slowSource(chunks: number, chunk = 1024, failAt?: number): Readable {
  return Readable.from(
    (async function* () {
      for (let i = 0; i < chunks; i++) {
        if (i === failAt) throw new Error("source broke");
        yield randomBytes(chunk);
        await new Promise((r) => setTimeout(r, 5));
      }
    })(),
  );
}

describe("LocalStore round trips", () => {
  it("stores and reads 0 bytes", async () => {
    const put = await store.put(B, "empty", Readable.from([]), opts);
    expect(put).toEqual({ etag: md5(""), versionId: "null" });
    const got = await store.get(B, "empty");
    expect(got.contentLength).toBe(0);
    expect(await text(got.body)).toBe("");
    expect((await store.head(B, "empty")).size).toBe(0);
    await expectCode(store.get(B, "empty", { range: { start: 0 } }), "RANGE_NOT_SATISFIABLE");
  });

  it("stores small data with type, metadata and progress", async () => {
    const seen: number[] = [];
    const put = await store.put(B, "greeting.txt", Readable.from([Buffer.from("hello "), "world"]), {
      contentType: "text/plain",
      metadata: { owner: "ada" },
      onProgress: (n) => seen.push(n),
    });
    expect(put.etag).toBe(md5("hello world"));
    expect(seen).toEqual([6, 11]);
    const got = await store.get(B, "greeting.txt");
    expect(await text(got.body)).toBe("hello world");
    expect(got.head).toMatchObject({
      bucket: B,
      key: "greeting.txt",
      versionId: "null",
      size: 11,
      etag: put.etag,
      contentType: "text/plain",
      metadata: { owner: "ada" },
    });
    expect(got.head.lastModified).toBeInstanceOf(Date);
    const again = await store.get(B, "greeting.txt", { versionId: "null" });
    expect(again.contentLength).toBe(11);
    again.body.destroy();
  });

  it("streams ~20 MiB without corruption", async () => {
    const inHash = createHash("sha256");
    const inMd5 = createHash("md5");
    const source = Readable.from(
      (function* () {
        for (let i = 0; i < 320; i++) {
          const chunk = randomBytes(64 * 1024);
          inHash.update(chunk);
          inMd5.update(chunk);
          yield chunk;
        }
      })(),
    );
    const put = await store.put(B, "big.bin", source, opts);
    expect(put.etag).toBe(`"${inMd5.digest("hex")}"`);
    const got = await store.get(B, "big.bin");
    expect(got.contentLength).toBe(20 * 1024 * 1024);
    const outHash = createHash("sha256");
    for await (const chunk of got.body) outHash.update(chunk as Buffer);
    expect(outHash.digest("hex")).toBe(inHash.digest("hex"));
  });

  it("lets keys a and a/b coexist and keeps hostile keys inside the root", async () => {
    await store.put(B, "a", Readable.from(["A"]), opts);
    await store.put(B, "a/b", Readable.from(["AB"]), opts);
    await store.put(B, "../../../escape", Readable.from(["E"]), opts);
    expect(await text((await store.get(B, "a")).body)).toBe("A");
    expect(await text((await store.get(B, "a/b")).body)).toBe("AB");
    expect(await text((await store.get(B, "../../../escape")).body)).toBe("E");
    expect((await readdir(root)).sort()).toEqual([".tmp", B]);
    await expectCode(store.put(B, "", Readable.from(["x"]), opts), "INVALID_ARGUMENT");
  });
});

describe("LocalStore ranges", () => {
  beforeEach(async () => {
    await store.put(B, "r", Readable.from(["0123456789"]), opts);
  });

  it("serves a valid range", async () => {
    const got = await store.get(B, "r", { range: { start: 2, end: 4 } });
    expect(got.range).toEqual({ start: 2, end: 4 });
    expect(got.contentLength).toBe(3);
    expect(await text(got.body)).toBe("234");
  });

  it("clamps the end and supports open ranges", async () => {
    const clamped = await store.get(B, "r", { range: { start: 7, end: 100 } });
    expect(clamped.range).toEqual({ start: 7, end: 9 });
    expect(await text(clamped.body)).toBe("789");
    const open = await store.get(B, "r", { range: { start: 9 } });
    expect(open.contentLength).toBe(1);
    expect(await text(open.body)).toBe("9");
  });

  it("refuses unsatisfiable ranges", async () => {
    await expectCode(store.get(B, "r", { range: { start: 10 } }), "RANGE_NOT_SATISFIABLE");
    await expectCode(store.get(B, "r", { range: { start: 5, end: 4 } }), "RANGE_NOT_SATISFIABLE");
    await expectCode(store.get(B, "r", { range: { start: -1 } }), "INVALID_ARGUMENT");
  });
});

describe("LocalStore writes", () => {
  const objectDirs = async () => {
    const shards = await readdir(path.join(root, B));
    const dirs = await Promise.all(shards.map((s) => readdir(path.join(root, B, s))));
    return dirs.flat().map((h) => path.join(root, B, h.slice(0, 2), h));
  };

  it("overwrite replaces the object and leaves exactly one data file", async () => {
    await store.put(B, "k", Readable.from(["first"]), opts);
    await store.put(B, "k", Readable.from(["second"]), { contentType: "text/plain", metadata: { v: "2" } });
    const got = await store.get(B, "k");
    expect(await text(got.body)).toBe("second");
    expect(got.head.metadata).toEqual({ v: "2" });
    const [dir] = await objectDirs();
    const files = await readdir(dir as string);
    expect(files.filter((f) => f.startsWith("data-"))).toHaveLength(1);
    expect(files).toContain("meta.json");
    expect(files).toHaveLength(2);
    expect(await tmpEntries()).toEqual([]);
  });

  it("an aborted put leaves nothing visible and an empty .tmp", async () => {
    await store.put(B, "kept", Readable.from(["old"]), opts);
    for (const key of ["fresh", "kept"]) {
      const ac = new AbortController();
      const p = store.put(B, key, slowSource(100), {
        ...opts,
        signal: ac.signal,
        onProgress: (n) => {
          if (n >= 3 * 1024) ac.abort();
        },
      });
      await expectCode(p, "CANCELLED");
    }
    await expectCode(store.head(B, "fresh"), "NOT_FOUND");
    expect(await text((await store.get(B, "kept")).body)).toBe("old");
    expect(await tmpEntries()).toEqual([]);
  });

  it("an erroring source leaves nothing visible and an empty .tmp", async () => {
    const err = await expectCode(store.put(B, "broken", slowSource(10, 1024, 4), opts), "INTERNAL");
    expect(err.message).toContain("source broke");
    await expectCode(store.head(B, "broken"), "NOT_FOUND");
    expect(await tmpEntries()).toEqual([]);
    expect((await store.list(B)).objects).toEqual([]);
  });

  it("passes a StorageError from the source through unchanged", async () => {
    const source = Readable.from(
      (async function* () {
        yield Buffer.from("abc");
        throw new StorageError("TOO_LARGE", "too big", { limit: 3 });
      })(),
    );
    await expectCode(store.put(B, "big", source, opts), "TOO_LARGE");
    expect(await tmpEntries()).toEqual([]);
  });

  it("sources that fail at once never leak temp files", async () => {
    const failing = () =>
      new Readable({
        read() {
          this.destroy(new Error("instant failure"));
        },
      });
    const ac = new AbortController();
    ac.abort();
    await Promise.all([
      ...Array.from({ length: 20 }, () => expectCode(store.put(B, "f", failing(), opts), "INTERNAL")),
      ...Array.from({ length: 5 }, () =>
        expectCode(store.put(B, "f", slowSource(3), { ...opts, signal: ac.signal }), "CANCELLED"),
      ),
    ]);
    expect(await tmpEntries()).toEqual([]);
    expect(await objectDirs()).toEqual([]);
  });

  it("concurrent overwrites and reads of one key stay consistent", async () => {
    const bodies = Array.from({ length: 8 }, (_, i) => `version-${i}`.repeat(1000));
    const reads: Promise<string>[] = [];
    await Promise.all(
      bodies.map(async (body) => {
        await store.put(B, "hot", Readable.from([body]), opts);
        reads.push(store.get(B, "hot").then((g) => text(g.body)));
      }),
    );
    for (const r of await Promise.all(reads)) expect(bodies).toContain(r);
    const [dir] = await objectDirs();
    expect((await readdir(dir as string)).filter((f) => f.startsWith("data-"))).toHaveLength(1);
    expect(await tmpEntries()).toEqual([]);
  });

  it("delete is idempotent and removes the object dir", async () => {
    await store.put(B, "gone", Readable.from(["x"]), opts);
    expect(await store.delete(B, "gone")).toEqual({ deleteMarker: false });
    expect(await store.delete(B, "gone")).toEqual({ deleteMarker: false });
    expect(await store.delete(B, "never-existed")).toEqual({ deleteMarker: false });
    await expectCode(store.get(B, "gone"), "NOT_FOUND");
    expect(await objectDirs()).toEqual([]);
    await expectCode(store.delete(B, "gone", "v1"), "NOT_FOUND");
  });

  it("copies server-side, keeping type and metadata", async () => {
    await store.createBucket("archive");
    await store.put(B, "src", Readable.from(["payload"]), { contentType: "text/csv", metadata: { a: "1" } });
    const res = await store.copy({ bucket: B, key: "src" }, { bucket: "archive", key: "dst/copy.csv" });
    expect(res).toEqual({ etag: md5("payload"), versionId: "null" });
    const got = await store.get("archive", "dst/copy.csv");
    expect(await text(got.body)).toBe("payload");
    expect(got.head).toMatchObject({ contentType: "text/csv", metadata: { a: "1" } });
    expect(await text((await store.get(B, "src")).body)).toBe("payload");
    await store.copy({ bucket: B, key: "src" }, { bucket: B, key: "src" });
    expect(await text((await store.get(B, "src")).body)).toBe("payload");
    await expectCode(store.copy({ bucket: B, key: "nope" }, { bucket: "archive", key: "x" }), "NOT_FOUND");
    await expectCode(store.copy({ bucket: B, key: "src" }, { bucket: "nobucket", key: "x" }), "NOT_FOUND");
    expect(await tmpEntries()).toEqual([]);
  });
});

describe("LocalStore conditional writes", () => {
  const put = (on: LocalStore, key: string, data: string, condition: WriteCondition) =>
    on.put(B, key, Readable.from([Buffer.from(data)]), { ...opts, condition });

  it("a refused write leaves no object dir, no data file and an empty .tmp", async () => {
    const err = await expectCode(put(store, "absent", "x", { ifMatch: md5("x") }), "PRECONDITION_FAILED");
    expect(err.details).toMatchObject({ bucket: B, key: "absent", condition: "if-match" });
    expect(await readdir(path.join(root, B))).toEqual([]);
    expect(await tmpEntries()).toEqual([]);
    await put(store, "present", "old", { ifNoneMatch: "*" });
    await expectCode(put(store, "present", "new", { ifNoneMatch: "*" }), "PRECONDITION_FAILED");
    await expectCode(put(store, "present", "new", { ifMatch: md5("other") }), "PRECONDITION_FAILED");
    expect(await text((await store.get(B, "present")).body)).toBe("old");
    expect(await tmpEntries()).toEqual([]);
    // Bare and quoted ETags compare alike.
    await put(store, "present", "new", { ifMatch: md5("old").slice(1, -1) });
    expect(await text((await store.get(B, "present")).body)).toBe("new");
  });

  it("create-if-absent holds across two stores on one root (each with its own lock, like two processes)", async () => {
    const twin = new LocalStore(root);
    const results = await Promise.allSettled(
      Array.from({ length: 8 }, (_, i) => put(i % 2 ? twin : store, "race", `w${i}`, { ifNoneMatch: "*" })),
    );
    const won = results.flatMap((r, i) => (r.status === "fulfilled" ? [i] : []));
    expect(won).toHaveLength(1);
    for (const r of results) {
      if (r.status === "rejected") expect((r.reason as StorageError).code).toBe("PRECONDITION_FAILED");
    }
    expect(await text((await store.get(B, "race")).body)).toBe(`w${won[0]}`);
    const [shard] = await readdir(path.join(root, B));
    const [dir] = await readdir(path.join(root, B, shard as string));
    const files = await readdir(path.join(root, B, shard as string, dir as string));
    expect(files.filter((f) => f.startsWith("data-"))).toHaveLength(1);
    expect(await tmpEntries()).toEqual([]);
  });
});

describe("LocalStore list", () => {
  const keys = [
    ...Array.from({ length: 10 }, (_, i) => `docs/${i}.txt`),
    ...Array.from({ length: 10 }, (_, i) => `img/${i % 2 ? "b" : "a"}/${i}.png`),
    ...Array.from({ length: 10 }, (_, i) => `top-${String(i).padStart(2, "0")}`),
  ];
  beforeEach(async () => {
    for (const key of keys) await store.put(B, key, Readable.from([key]), opts);
  });

  it("lists everything recursively in key order", async () => {
    const page = await store.list(B);
    expect(page.objects.map((o) => o.key)).toEqual([...keys].sort());
    expect(page.prefixes).toEqual([]);
    expect(page.nextCursor).toBeUndefined();
    expect(page.objects[0]).toMatchObject({ key: "docs/0.txt", size: 10, etag: md5("docs/0.txt") });
  });

  it("filters by prefix and rolls up at the delimiter", async () => {
    const top = await store.list(B, { delimiter: "/" });
    expect(top.prefixes).toEqual(["docs/", "img/"]);
    expect(top.objects.map((o) => o.key)).toEqual(keys.slice(20));
    const img = await store.list(B, { prefix: "img/", delimiter: "/" });
    expect(img.prefixes).toEqual(["img/a/", "img/b/"]);
    expect(img.objects).toEqual([]);
    const imgA = await store.list(B, { prefix: "img/a/" });
    expect(imgA.objects.map((o) => o.key)).toEqual([
      "img/a/0.png",
      "img/a/2.png",
      "img/a/4.png",
      "img/a/6.png",
      "img/a/8.png",
    ]);
  });

  it("paginates without gaps or repeats", async () => {
    const collect = async (options: { delimiter?: string; limit: number }) => {
      const names: string[] = [];
      let cursor: string | undefined;
      let pages = 0;
      do {
        const page = await store.list(B, { ...options, cursor });
        expect(page.objects.length + page.prefixes.length).toBeLessThanOrEqual(options.limit);
        names.push(...page.prefixes, ...page.objects.map((o) => o.key));
        cursor = page.nextCursor;
        pages++;
      } while (cursor);
      return { names, pages };
    };
    const all = await collect({ limit: 7 });
    expect(all.names).toEqual([...keys].sort());
    expect(all.pages).toBe(5);
    const rolled = await collect({ delimiter: "/", limit: 1 });
    expect(rolled.names).toEqual(["docs/", "img/", ...keys.slice(20)]);
    expect(rolled.pages).toBe(12);
  });

  it("refuses bad cursors and limits", async () => {
    await expectCode(store.list(B, { cursor: "!!not base64!!" }), "INVALID_ARGUMENT");
    await expectCode(store.list(B, { limit: 0 }), "INVALID_ARGUMENT");
    expect((await store.list(B, { limit: 5000 })).objects).toHaveLength(30);
  });
});

describe("LocalStore errors and guards", () => {
  it("head of a missing object is NOT_FOUND with bucket and key", async () => {
    const err = await expectCode(store.head(B, "missing"), "NOT_FOUND");
    expect(err.details).toEqual({ bucket: B, key: "missing" });
    await expectCode(store.head(B, "missing", "v7"), "NOT_FOUND");
  });

  it("a missing bucket is NOT_FOUND and writes nothing", async () => {
    expect(await store.bucketExists("nobucket")).toBe(false);
    await expectCode(store.put("nobucket", "k", Readable.from(["x"]), opts), "NOT_FOUND");
    await expectCode(store.get("nobucket", "k"), "NOT_FOUND");
    await expectCode(store.list("nobucket"), "NOT_FOUND");
    await expectCode(store.delete("nobucket", "k"), "NOT_FOUND");
    expect(await tmpEntries()).toEqual([]);
  });

  it("creates buckets once", async () => {
    expect(await store.bucketExists(B)).toBe(true);
    await expectCode(store.createBucket(B), "ALREADY_EXISTS");
  });

  it("refuses hostile bucket names", async () => {
    const hostile = [
      "..",
      "../etc",
      "a/b",
      ".tmp",
      "ab",
      "UPPER",
      "-abc",
      "abc-",
      "a..b",
      "x".repeat(64),
      "a\0bc",
    ];
    for (const bucket of hostile) {
      await expectCode(store.bucketExists(bucket), "INVALID_ARGUMENT");
      await expectCode(store.createBucket(bucket), "INVALID_ARGUMENT");
      await expectCode(store.put(bucket, "k", Readable.from(["x"]), opts), "INVALID_ARGUMENT");
      await expectCode(store.get(bucket, "k"), "INVALID_ARGUMENT");
      await expectCode(store.list(bucket), "INVALID_ARGUMENT");
    }
    expect((await readdir(root)).sort()).toEqual([".tmp", B]);
  });

  it("has no presign, no multipart leftovers, and pings", async () => {
    expect(store.capabilities).toEqual({ presign: false, versioning: false });
    expect(store.kind).toBe("local");
    await expectCode(store.presign(B, "k", { method: "GET", expiresInSeconds: 60 }), "UNSUPPORTED_OPERATION");
    expect(await store.listIncompleteUploads(B)).toEqual([]);
    await store.abortIncompleteUpload(B, { key: "k", uploadId: "u", initiated: new Date() });
    const fresh = new LocalStore(path.join(root, "nested", "root"));
    await fresh.ping();
    expect(await readdir(path.join(root, "nested", "root"))).toEqual([".tmp"]);
  });
});
