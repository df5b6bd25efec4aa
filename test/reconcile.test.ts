import { Readable } from "node:stream";
import { sql } from "kysely";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MAX_REPORTED_KEYS, orphanCount, type ReconcileProgress } from "../src/core/reconcile.ts";
import { createTestApp, type TestApp } from "./support/app.ts";
import { bufferStream, sha256Of } from "./support/data.ts";

/** Drift both ways between MinIO and the index is found by a dry run, and repaired only on request. */
describe("reconcile", () => {
  let app: TestApp;
  let bucket: string;

  beforeAll(async () => {
    app = await createTestApp("minio");
    bucket = app.config.buckets.temp;
  });
  afterAll(async () => {
    await app?.dispose();
  });

  async function drift(prefix: string) {
    for (const name of ["a", "b", "c"]) {
      await app.service.upload({ bucket, key: `${prefix}/${name}.txt`, body: bufferStream(name) });
    }
    // Written around the service (as a presigned PUT would be): an object without a row.
    await app.store.put(bucket, `${prefix}/unindexed.txt`, Readable.from([Buffer.from("stray")]), {
      contentType: "text/plain",
      metadata: {},
    });
    // Removed around the service (as a lifecycle expiry would): a row without an object.
    await app.store.delete(bucket, `${prefix}/b.txt`);
  }

  it("reports orphans both ways on a dry run and changes nothing", async () => {
    await drift("dry");
    const first = await app.service.reconcile(bucket, { repair: false });
    expect(first.objectsWithoutRows).toEqual(["dry/unindexed.txt"]);
    expect(first.rowsWithoutObjects).toEqual(["dry/b.txt"]);
    expect(first.repaired).toBe(0);
    const second = await app.service.reconcile(bucket, { repair: false });
    expect(second).toEqual(first);
  });

  it("repairs by adopting unindexed objects with their real sha256 and dropping dangling rows", async () => {
    const report = await app.service.reconcile(bucket, { repair: true });
    expect(report.repaired).toBe(2);
    const adopted = await app.index.find(bucket, "dry/unindexed.txt");
    expect(adopted).toMatchObject({ sha256: sha256Of("stray"), size: 5, owner: "reconcile" });
    expect(await app.index.find(bucket, "dry/b.txt")).toBeUndefined();
    expect(orphanCount(await app.service.reconcile(bucket, { repair: false }))).toBe(0);
  });

  it("can delete unindexed objects instead of adopting them", async () => {
    await drift("del");
    const report = await app.service.reconcile(bucket, { repair: true, deleteUnindexed: true });
    expect(report.objectsWithoutRows).toEqual(["del/unindexed.txt"]);
    await expect(app.store.head(bucket, "del/unindexed.txt")).rejects.toMatchObject({ code: "NOT_FOUND" });
    expect(orphanCount(await app.service.reconcile(bucket, { repair: false }))).toBe(0);
  });

  it("names at most 1000 keys per list, counts the rest, and reports progress as it walks", async () => {
    // 2,500 rows whose objects never existed, written straight into the index.
    const lost = 2500;
    await sql`
      insert into object_versions (bucket, key, version_id, size, sha256, etag, content_type, owner, is_latest)
      select ${bucket}, format('lost/%s', lpad(i::text, 5, '0')), 'null', 1, repeat('a', 64), '"e"',
             'text/plain', 'test', true
      from generate_series(1, ${lost}::int) i`.execute(app.db);
    const seen: ReconcileProgress[] = [];
    const report = await app.service.reconcile(bucket, { repair: false, onProgress: (p) => seen.push(p) });
    expect(report.rowsWithoutObjects).toHaveLength(MAX_REPORTED_KEYS);
    expect(report.rowsWithoutObjects[0]).toBe("lost/00001");
    expect(report.unlisted).toEqual({ rowsWithoutObjects: lost - MAX_REPORTED_KEYS });
    expect(orphanCount(report)).toBe(lost);
    // A call per 1000 keys walked, counts only growing, the last one the report's own.
    expect(seen.length).toBeGreaterThanOrEqual(3);
    for (let i = 1; i < seen.length; i++) {
      expect(seen[i]?.rows).toBeGreaterThanOrEqual(seen[i - 1]?.rows ?? 0);
    }
    expect(seen.at(-1)).toEqual({
      bucket,
      objects: report.objects,
      rows: report.rows,
      orphans: lost,
      repaired: 0,
    });
    // Repair drops every row, listed or not.
    const repaired = await app.service.reconcile(bucket, { repair: true });
    expect(repaired.repaired).toBe(lost);
    expect(orphanCount(await app.service.reconcile(bucket, { repair: false }))).toBe(0);
  });
});
