import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Secret } from "../config/secret.ts";
import { decodeCursor, encodeCursor } from "../cursor.ts";
import { type Database, openDatabase } from "./database.ts";
import { compareKeys } from "./listing.ts";
import { MetadataRepository, type NewObjectVersion, type StoreCurrent } from "./repository.ts";

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

  describe("follows the store's current object, not the order versions are recorded in", () => {
    const current =
      (versionId: string, etag = '"e"') =>
      async (): Promise<StoreCurrent> => ({ versionId, etag });
    const latestIds = async (key: string) =>
      (
        await db
          .selectFrom("object_versions")
          .select("version_id")
          .where("bucket", "=", bucket)
          .where("key", "=", key)
          .where("is_latest", "=", true)
          .execute()
      ).map((r) => r.version_id);

    it("an older version recorded after a newer one is history, not latest", async () => {
      await repo.recordVersion(version("order/v.txt", "new"), current("new"));
      const old = await repo.recordVersion(version("order/v.txt", "old"), current("new"));
      expect(old?.isLatest).toBe(false);
      expect(await latestIds("order/v.txt")).toEqual(["new"]);
      expect((await repo.find(bucket, "order/v.txt", "old"))?.isLatest).toBe(false);
    });

    it("a version recorded before the newer one's row makes it latest once that row arrives", async () => {
      // The store already serves "b"; its writer has not recorded it yet.
      const a = await repo.recordVersion(version("order/early.txt", "a"), current("b"));
      expect(a?.isLatest).toBe(false);
      expect(await repo.find(bucket, "order/early.txt")).toBeUndefined();
      await repo.recordVersion(version("order/early.txt", "b"), current("b"));
      expect(await latestIds("order/early.txt")).toEqual(["b"]);
    });

    it("settles on the store's current version when its row is already there but not latest", async () => {
      await repo.recordVersion(version("order/heal.txt", "x"), current("x"));
      await repo.recordVersion(version("order/heal.txt", "y"), current("y"));
      // The store reports x as current again (y was deleted there): the next record follows it.
      await repo.recordVersion(version("order/heal.txt", "z"), current("x"));
      expect(await latestIds("order/heal.txt")).toEqual(["x"]);
    });

    it("an overwritten null version is not recorded; the current one's row stays", async () => {
      const mine = { ...version("order/plain.txt"), etag: '"mine"', sha256: "b".repeat(64) };
      const theirs = { ...version("order/plain.txt"), etag: '"theirs"', sha256: "c".repeat(64) };
      expect(await repo.recordVersion(theirs, current("null", '"theirs"'))).toMatchObject({ isLatest: true });
      expect(await repo.recordVersion(mine, current("null", '"theirs"'))).toBeUndefined();
      expect(await repo.find(bucket, "order/plain.txt")).toMatchObject({
        etag: '"theirs"',
        sha256: "c".repeat(64),
      });
      expect(await repo.recordVersion(mine, async () => "absent")).toBeUndefined();
      expect(await repo.recordVersion(mine, async () => "other")).toBeUndefined();
      expect((await repo.find(bucket, "order/plain.txt"))?.etag).toBe('"theirs"');
    });

    it("a version hidden by a delete marker (or another key's SSE-C object) is recorded as history", async () => {
      await repo.recordVersion(version("order/gone.txt", "g1"), async () => "absent");
      await repo.recordVersion(version("order/gone.txt", "g2"), async () => "other");
      expect(await latestIds("order/gone.txt")).toEqual([]);
      expect(await repo.find(bucket, "order/gone.txt", "g2")).toMatchObject({ isLatest: false });
    });

    it("concurrent records of one key leave exactly the store's current version latest", async () => {
      const ids = Array.from({ length: 12 }, (_, i) => `c${i}`);
      await Promise.all(ids.map((id) => repo.recordVersion(version("order/race.txt", id), current("c7"))));
      expect(await latestIds("order/race.txt")).toEqual(["c7"]);
      expect(
        (await repo.list(bucket, { prefix: "order/race", limit: 10 })).objects.map((o) => o.versionId),
      ).toEqual(["c7"]);
    });

    it("the database refuses a second latest row for a key", async () => {
      await repo.recordVersion(version("order/unique.txt", "u1"));
      await repo.recordVersion(version("order/unique.txt", "u2"));
      await expect(
        db
          .updateTable("object_versions")
          .set({ is_latest: true })
          .where("bucket", "=", bucket)
          .where("key", "=", "order/unique.txt")
          .execute(),
      ).rejects.toThrow(/object_versions_one_latest/);
    });
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

  it("lists folders the way a full grouping would, for any delimiter, prefix and cursor (non-ASCII too)", async () => {
    // A seeded pseudo-random key set over an alphabet that crosses UTF-8 lengths (and the UTF-16
    // order trap: U+E000 sorts before U+1F600 in bytes, after it in UTF-16), against a plain model.
    const alphabet = ["a", "b", "/", "-", "é", "\uE000", "😀", "~"];
    let seed = 7;
    const rand = (n: number) => {
      seed = (seed * 48271) % 2147483647;
      return seed % n;
    };
    const keys = new Set<string>();
    while (keys.size < 120) {
      let key = "z";
      for (let i = 0, len = 1 + rand(6); i < len; i++) key += alphabet[rand(alphabet.length)];
      keys.add(key);
    }
    await Promise.all([...keys].map((key) => repo.recordVersion(version(key))));
    const sorted = [...keys].sort(compareKeys);
    const model = (prefix: string, delimiter: string) => {
      const entries: string[] = [];
      for (const key of sorted) {
        if (!key.startsWith(prefix)) continue;
        const at = key.indexOf(delimiter, prefix.length);
        const entry = at >= 0 ? key.slice(0, at + delimiter.length) : key;
        if (entries.at(-1) !== entry) entries.push(entry);
      }
      return entries;
    };
    const walk = async (prefix: string, delimiter: string, limit: number, from?: string) => {
      const seen: string[] = [];
      let cursor = from === undefined ? undefined : encodeCursor(from);
      do {
        const page = await repo.list(bucket, { prefix, delimiter, limit, ...(cursor ? { cursor } : {}) });
        const entries = [...page.prefixes, ...page.objects.map((o) => o.key)].sort(compareKeys);
        expect(entries.length).toBeLessThanOrEqual(limit);
        for (const o of page.objects) expect(o.sha256).toBe("a".repeat(64));
        if (page.nextCursor) expect(decodeCursor(page.nextCursor)).toBe(entries.at(-1));
        seen.push(...entries);
        cursor = page.nextCursor;
      } while (cursor);
      return seen;
    };
    for (const delimiter of ["/", "ab", "😀", "é/", "\u{10FFFF}a"]) {
      for (const prefix of ["z", "za", "z/", "zé", "z😀", "z\uE000"]) {
        const expected = model(prefix, delimiter);
        expect(await walk(prefix, delimiter, 1000)).toEqual(expected);
        expect(await walk(prefix, delimiter, 7)).toEqual(expected);
        // Resuming after any entry, or after any key (inside a common prefix or not).
        for (const from of [expected[1], sorted[rand(sorted.length)], `${prefix}é`, "z😀z"]) {
          if (from === undefined) continue;
          const rest = expected.filter((e) => compareKeys(e, from) > 0);
          expect(await walk(prefix, delimiter, 1000, from)).toEqual(rest);
        }
      }
    }
    await expect(repo.list(bucket, { delimiter: "\u{10FFFF}", limit: 5 })).rejects.toMatchObject({
      code: "INVALID_ARGUMENT",
    });
  });

  it("settles a batch of deletes as the single-key methods would, key by key", async () => {
    const k = (name: string) => `settle/${name}`;
    // An unversioned key with older history: its "null" row goes and the newest other becomes latest.
    await repo.recordVersion(version(k("history"), "v1"));
    await repo.recordVersion(version(k("history")));
    // A versioned key whose delete left a marker: its rows stay, none latest.
    await repo.recordVersion(version(k("marked"), "v1"));
    // Keys written again after the delete: the same ETag keeps its row, another drops it.
    await repo.recordVersion(version(k("same")));
    await repo.recordVersion(version(k("other")));
    await repo.settleDeletes(
      bucket,
      [
        { key: k("history"), deleteMarker: false },
        { key: k("marked"), deleteMarker: true },
        { key: k("same"), deleteMarker: false },
        { key: k("other"), deleteMarker: false },
      ],
      async () =>
        new Map([
          [k("same"), '"e"'],
          [k("other"), '"new"'],
        ]),
    );
    expect(await repo.find(bucket, k("history"))).toMatchObject({ versionId: "v1", isLatest: true });
    expect(await repo.find(bucket, k("history"), "null")).toBeUndefined();
    expect(await repo.find(bucket, k("marked"))).toBeUndefined();
    expect(await repo.find(bucket, k("marked"), "v1")).toMatchObject({ isLatest: false });
    expect(await repo.find(bucket, k("same"))).toMatchObject({ versionId: "null", isLatest: true });
    expect(await repo.find(bucket, k("other"), "null")).toBeUndefined();
    const entries = [];
    for await (const e of repo.latestEntries(bucket, 2)) if (e.key.startsWith("settle/")) entries.push(e);
    expect(entries).toEqual([
      { key: k("history"), versionId: "v1", size: 1, etag: '"e"' },
      { key: k("same"), versionId: "null", size: 1, etag: '"e"' },
    ]);
  });

  it("refuses a forged cursor", async () => {
    await expect(repo.list(bucket, { limit: 1, cursor: "%%%" })).rejects.toMatchObject({
      code: "INVALID_ARGUMENT",
    });
  });
});
