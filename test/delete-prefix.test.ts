import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { mapBounded } from "../src/bounded.ts";
import { type DeletePrefixDeps, deleteByPrefix } from "../src/core/delete-prefix.ts";
import { createTestApp, type TestApp } from "./support/app.ts";
import { bufferStream, sha256Of } from "./support/data.ts";

/**
 * Delete by prefix against MinIO and the index: one DeleteObjects request per page, the index
 * following in batched transactions, and a key written again while the batch runs keeps its new
 * object and a row that describes it (neither deleted nor left stale), in unversioned and
 * versioned buckets.
 */
describe("delete by prefix, batched (MinIO)", () => {
  let app: TestApp;

  beforeAll(async () => {
    app = await createTestApp("minio");
  });
  afterAll(async () => {
    await app?.dispose();
  });

  /** `count` objects under a fresh prefix, uploaded through the service (so each has its row). */
  async function seed(bucket: string, count: number) {
    const prefix = `batch-${randomUUID()}/`;
    const keys = Array.from({ length: count }, (_, i) => `${prefix}k${String(i).padStart(4, "0")}.txt`);
    const uploaded = await mapBounded(keys, 16, (key) =>
      app.service.upload({ bucket, key, body: bufferStream(`old ${key}`) }),
    );
    return { prefix, keys, versions: uploaded.map((u) => u.versionId) };
  }

  /** The store's keys under the prefix, and the index's latest rows there. */
  async function state(bucket: string, prefix: string) {
    const stored = await app.store.list(bucket, { prefix, limit: 1000 });
    const rows = await app.index.list(bucket, { prefix, limit: 1000 });
    return { stored: stored.objects, rows: rows.objects };
  }

  /** The real store, with hooks after each DeleteObjects request and after each listing. */
  const storeWith = (hooks: {
    afterDelete?: (keys: readonly string[]) => Promise<void>;
    afterList?: () => void;
  }): DeletePrefixDeps["store"] => ({
    list: async (bucket, options) => {
      const page = await app.store.list(bucket, options);
      hooks.afterList?.();
      return page;
    },
    deleteMany: async (bucket, keys) => {
      const outcomes = await app.store.deleteMany(bucket, keys);
      await hooks.afterDelete?.(keys);
      return outcomes;
    },
  });

  for (const kind of ["unversioned", "versioned"] as const) {
    it(`${kind}: deletes every key and its row, except a key written again meanwhile`, async () => {
      const bucket = kind === "versioned" ? app.config.buckets.config : app.config.buckets.temp;
      const { prefix, keys, versions } = await seed(bucket, 400);
      const rewritten = keys[300] as string;
      // Written again after the store deleted it, before its batch's rows are settled.
      const store = storeWith({
        afterDelete: async (deleted) => {
          if (deleted.includes(rewritten)) {
            await app.service.upload({ bucket, key: rewritten, body: bufferStream("new bytes") });
          }
        },
      });
      const result = await deleteByPrefix({ store, index: app.index }, bucket, prefix);
      expect(result).toMatchObject({ deleted: 400, failed: 0 });

      const { stored, rows } = await state(bucket, prefix);
      expect(stored.map((o) => o.key)).toEqual([rewritten]);
      expect(rows.map((r) => r.key)).toEqual([rewritten]);
      const head = await app.store.head(bucket, rewritten);
      expect(rows[0]).toMatchObject({
        etag: head.etag,
        versionId: head.versionId,
        sha256: sha256Of("new bytes"),
      });
      // A versioned bucket keeps the deleted keys' versions, as history that is not latest.
      const before = await app.index.find(bucket, keys[0] as string, versions[0]);
      if (kind === "versioned") expect(before).toMatchObject({ isLatest: false });
      else expect(before).toBeUndefined();
    });
  }

  it("a write that lands while a batch holds its keys' locks is recorded after the batch", async () => {
    const bucket = app.config.buckets.temp;
    const { prefix, keys } = await seed(bucket, 300);
    const rewritten = keys[10] as string;
    let deleted = false;
    let writing: Promise<unknown> | undefined;
    // The first batch's listing (made under its keys' locks, after the delete request) starts the
    // write: its row must wait for the batch's transaction, then ask the store itself.
    const store = storeWith({
      afterDelete: async () => {
        deleted = true;
      },
      afterList: () => {
        if (deleted && writing === undefined) {
          writing = app.service.upload({ bucket, key: rewritten, body: bufferStream("late bytes") });
        }
      },
    });
    const result = await deleteByPrefix({ store, index: app.index }, bucket, prefix);
    expect(writing).toBeDefined();
    await writing;
    expect(result).toMatchObject({ deleted: 300, failed: 0 });
    const { stored, rows } = await state(bucket, prefix);
    expect(stored.map((o) => o.key)).toEqual([rewritten]);
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ key: rewritten, etag: stored[0]?.etag, sha256: sha256Of("late bytes") });
  });
});
