import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Secret } from "../config/secret.ts";
import { type Database, openDatabase } from "./database.ts";
import { MetadataRepository, type NewObjectVersion } from "./repository.ts";

// The same suite runs on embedded PGlite and, when DATABASE_URL is set (CI), on a PostgreSQL server:
// one schema and one SQL dialect for both.
const targets: [string, { url: Secret | undefined; pgliteDir: string }][] = [
  ["PGlite", { url: undefined, pgliteDir: "memory://" }],
];
if (process.env.DATABASE_URL)
  targets.push(["PostgreSQL", { url: new Secret(process.env.DATABASE_URL), pgliteDir: "" }]);

describe.each(targets)("MetadataRepository on %s", (_name, settings) => {
  let db: Database;
  let repo: MetadataRepository;
  const bucket = `repo-${randomUUID().slice(0, 8)}`;
  const version = (key: string, versionId = "null", size = 1): NewObjectVersion => ({
    bucket,
    key,
    versionId,
    size,
    sha256: "a".repeat(64),
    etag: '"e"',
    contentType: "text/plain",
    metadata: { k: "v" },
    owner: "test",
  });

  beforeAll(async () => {
    db = await openDatabase(settings);
    repo = new MetadataRepository(db);
  });
  afterAll(async () => {
    await db?.deleteFrom("object_versions").where("bucket", "=", bucket).execute();
    await db?.destroy();
  });

  it("applies migrations idempotently", async () => {
    const again = await openDatabase(settings);
    await again.destroy();
    expect(await repo.find(bucket, "none")).toBeUndefined();
  });

  it("replaces the null version in place and keeps sizes above 2^32", async () => {
    await repo.recordVersion(version("plain.txt", "null", 1));
    await repo.recordVersion(version("plain.txt", "null", 5 * 1024 ** 3));
    const found = await repo.find(bucket, "plain.txt");
    expect(found).toMatchObject({
      versionId: "null",
      size: 5 * 1024 ** 3,
      isLatest: true,
      metadata: { k: "v" },
    });
  });

  it("tracks versions: the newest is latest, a delete marker hides all, removing the latest promotes the next", async () => {
    await repo.recordVersion(version("v.txt", "v1"));
    await repo.recordVersion(version("v.txt", "v2"));
    expect((await repo.find(bucket, "v.txt"))?.versionId).toBe("v2");
    expect((await repo.find(bucket, "v.txt", "v1"))?.isLatest).toBe(false);
    await repo.removeVersion(bucket, "v.txt", "v2");
    expect((await repo.find(bucket, "v.txt"))?.versionId).toBe("v1");
    await repo.markDeleted(bucket, "v.txt");
    expect(await repo.find(bucket, "v.txt")).toBeUndefined();
    expect(await repo.find(bucket, "v.txt", "v1")).toBeDefined();
  });

  it("keeps exactly one latest row per key through any order of versions and null replacements", async () => {
    const ids = ["a1", "null", "a2", "null", "a3", "a3"];
    for (const id of ids) {
      await repo.recordVersion(version("mix.txt", id));
      const latest = [];
      for (const other of new Set(ids)) {
        if ((await repo.find(bucket, "mix.txt", other))?.isLatest) latest.push(other);
      }
      expect(latest).toEqual([id]);
    }
    await repo.markDeleted(bucket, "mix.txt");
    await repo.recordVersion(version("mix.txt", "null"));
    expect((await repo.find(bucket, "mix.txt"))?.versionId).toBe("null");
    expect((await repo.find(bucket, "mix.txt", "a3"))?.isLatest).toBe(false);
  });

  it("lists by prefix with literal wildcards, delimiters and cursors", async () => {
    for (const key of ["p/a%b.txt", "p/a_c.txt", "p/abc.txt", "p/sub/x.txt", "p/sub/y.txt", "q/z.txt"]) {
      await repo.recordVersion(version(key));
    }
    const literal = await repo.list(bucket, { prefix: "p/a%", limit: 10 });
    expect(literal.objects.map((o) => o.key)).toEqual(["p/a%b.txt"]);
    const level = await repo.list(bucket, { prefix: "p/", delimiter: "/", limit: 10 });
    expect(level.prefixes).toEqual(["p/sub/"]);
    expect(level.objects.map((o) => o.key)).toEqual(["p/a%b.txt", "p/a_c.txt", "p/abc.txt"]);
    const first = await repo.list(bucket, { prefix: "p/", limit: 2 });
    const second = await repo.list(bucket, { prefix: "p/", limit: 10, cursor: first.nextCursor });
    expect([...first.objects, ...second.objects].map((o) => o.key)).toEqual([
      "p/a%b.txt",
      "p/a_c.txt",
      "p/abc.txt",
      "p/sub/x.txt",
      "p/sub/y.txt",
    ]);
    expect(second.nextCursor).toBeUndefined();
  });

  it("orders keys by bytes, as S3 does", async () => {
    for (const key of ["o/B", "o/a", "o/Z", "o/é", "o/~"]) await repo.recordVersion(version(key));
    const page = await repo.list(bucket, { prefix: "o/", limit: 10 });
    expect(page.objects.map((o) => o.key)).toEqual(["o/B", "o/Z", "o/a", "o/~", "o/é"]);
  });

  it("refuses a forged cursor", async () => {
    await expect(repo.list(bucket, { limit: 1, cursor: "%%%" })).rejects.toMatchObject({
      code: "INVALID_ARGUMENT",
    });
  });
});
