import { PGlite } from "@electric-sql/pglite";
import { Kysely, Migrator, sql } from "kysely";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PGliteDialect } from "../pglite-dialect.ts";
import type { DatabaseSchema } from "../schema.ts";
import { migrations } from "./index.ts";

describe("migration 0003_one_latest_per_key", () => {
  let pglite: PGlite;
  let db: Kysely<DatabaseSchema>;
  const migrator = () => new Migrator({ db, provider: { getMigrations: async () => migrations } });
  const row = (key: string, version_id: string, is_latest: boolean, created_at: string) => ({
    bucket: "b",
    key,
    version_id,
    size: 1,
    sha256: "a".repeat(64),
    etag: '"e"',
    content_type: "text/plain",
    metadata: "{}",
    owner: "test",
    is_latest,
    created_at: new Date(created_at),
    updated_at: new Date(created_at),
  });

  beforeAll(async () => {
    pglite = await PGlite.create();
    db = new Kysely<DatabaseSchema>({ dialect: new PGliteDialect(pglite) });
  });
  afterAll(async () => {
    await db?.destroy();
    await pglite?.close();
  });

  it("keeps the newest of several latest rows, then refuses a second one", async () => {
    expect((await migrator().migrateTo("0002_security")).error).toBeUndefined();
    // What concurrent writers could leave behind before the index was unique.
    await db
      .insertInto("object_versions")
      .values([
        row("k", "v1", true, "2024-01-01T00:00:01Z"),
        row("k", "v3", true, "2024-01-01T00:00:03Z"),
        row("k", "v2", true, "2024-01-01T00:00:02Z"),
        row("tie", "a", true, "2024-01-01T00:00:00Z"),
        row("tie", "b", true, "2024-01-01T00:00:00Z"),
        row("alone", "x", false, "2024-01-01T00:00:00Z"),
        row("alone", "y", true, "2024-01-01T00:00:00Z"),
      ])
      .execute();
    expect((await migrator().migrateToLatest()).error).toBeUndefined();

    const latest = await db
      .selectFrom("object_versions")
      .select(["key", "version_id"])
      .where("is_latest", "=", true)
      .orderBy("key")
      .execute();
    expect(latest).toEqual([
      { key: "alone", version_id: "y" },
      { key: "k", version_id: "v3" },
      { key: "tie", version_id: "b" },
    ]);
    const count = await sql<{ n: number }>`select count(*)::int as n from object_versions`.execute(db);
    expect(count.rows[0]?.n).toBe(7);
    await expect(
      db.updateTable("object_versions").set({ is_latest: true }).where("key", "=", "k").execute(),
    ).rejects.toThrow(/object_versions_one_latest/);
  });
});
