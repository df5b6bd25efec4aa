import { describe, expect, it } from "vitest";
import type { DeleteManyOutcome, ListOptions, ListPage } from "../backends/object-store.ts";
import { decodeCursor, encodeCursor } from "../cursor.ts";
import { StorageError } from "../errors.ts";
import type { DeletedKey } from "../metadata/repository.ts";
import { type DeletePrefixProgress, deleteByPrefix } from "./delete-prefix.ts";

const keyOf = (i: number) => `p/${String(i).padStart(5, "0")}`;

/** A store of `count` keys under "p/", paged as a backend pages, that records each request. */
function fakeStore(count: number, options: { refuse?: string } = {}) {
  const keys = new Map(Array.from({ length: count }, (_, i) => [keyOf(i), '"e"']));
  const pages: number[] = [];
  const deleteRequests: number[] = [];
  const list = async (_bucket: string, o: ListOptions): Promise<ListPage> => {
    const sorted = [...keys.keys()].sort();
    const marker = o.cursor ? decodeCursor(o.cursor) : o.startAfter;
    const start = marker === undefined ? 0 : sorted.findIndex((k) => k > marker);
    const slice = start < 0 ? [] : sorted.slice(start, start + (o.limit ?? 1000));
    pages.push(slice.length);
    const last = slice.at(-1);
    return {
      objects: slice.map((key) => ({ key, size: 1, etag: keys.get(key) ?? "", lastModified: new Date(0) })),
      prefixes: [],
      ...(last && last < (sorted.at(-1) ?? "") ? { nextCursor: encodeCursor(last) } : {}),
    };
  };
  const deleteMany = async (_bucket: string, batch: readonly string[]): Promise<DeleteManyOutcome[]> => {
    deleteRequests.push(batch.length);
    return batch.map((key): DeleteManyOutcome => {
      if (key === options.refuse) {
        return { key, deleted: false, error: new StorageError("PERMISSION_DENIED", "no") };
      }
      keys.delete(key);
      return { key, deleted: true, deleteMarker: false };
    });
  };
  return { store: { list, deleteMany }, keys, pages, deleteRequests };
}

/** An index that records each batch it settles and what the store answered for it. */
function fakeIndex(onSettle?: (batch: readonly DeletedKey[]) => void) {
  const settled: { keys: string[]; present: Map<string, string> }[] = [];
  return {
    settled,
    index: {
      async settleDeletes(
        _bucket: string,
        batch: readonly DeletedKey[],
        current: () => Promise<ReadonlyMap<string, string>>,
      ) {
        onSettle?.(batch);
        settled.push({ keys: batch.map((d) => d.key), present: new Map(await current()) });
      },
    },
  };
}

describe("deleteByPrefix", () => {
  it("deletes a page per request, settles the index in batches, and reports progress per page", async () => {
    const { store, pages, deleteRequests } = fakeStore(2500, { refuse: "p/01234" });
    const { index, settled } = fakeIndex();
    const seen: DeletePrefixProgress[] = [];
    const result = await deleteByPrefix({ store, index }, "bucket-a", "p/", {
      onProgress: (p) => seen.push(p),
    });
    expect(deleteRequests).toEqual([1000, 1000, 500]);
    expect(result).toMatchObject({ deleted: 2499, failed: 1 });
    expect(result.errors).toEqual([{ key: "p/01234", code: "PERMISSION_DENIED", message: "no" }]);
    expect(seen).toEqual([
      { listed: 1000, deleted: 1000, failed: 0 },
      { listed: 2000, deleted: 1999, failed: 1 },
      { listed: 2500, deleted: 2499, failed: 1 },
    ]);
    // Every deleted key is settled exactly once, in batches of at most 250; the refused key is not.
    const settledKeys = settled.flatMap((s) => s.keys).sort();
    expect(settledKeys).toHaveLength(2499);
    expect(new Set(settledKeys).size).toBe(2499);
    expect(settledKeys).not.toContain("p/01234");
    expect(Math.max(...settled.map((s) => s.keys.length))).toBe(250);
    // The refused key is still in the store, and still listed for the batch whose range holds it.
    const holding = settled.find((s) => s.keys.includes("p/01235"));
    expect(holding?.present).toEqual(new Map([["p/01234", '"e"']]));
    // Each batch's listing read one page from just before the batch (plus the walk's own pages).
    expect(pages.length).toBe(3 + settled.length);
  });

  it("tells the index a key written again after the delete is present, with its new ETag", async () => {
    const { store, keys } = fakeStore(600);
    const { index, settled } = fakeIndex((batch) => {
      // A writer stores p/00300 again between the delete request and its batch's settling.
      if (batch.some((d) => d.key === "p/00300")) keys.set("p/00300", '"new"');
    });
    const result = await deleteByPrefix({ store, index }, "bucket-a", "p/");
    expect(result).toMatchObject({ deleted: 600, failed: 0 });
    const present = settled.map((s) => [...s.present.entries()]);
    expect(present).toEqual([[], [["p/00300", '"new"']], []]);
  });

  it("counts a batch whose index transaction fails as failed, and goes on", async () => {
    const { store } = fakeStore(300);
    let calls = 0;
    const index = {
      async settleDeletes() {
        if (calls++ === 0) throw new StorageError("UNAVAILABLE", "The metadata database is down.");
      },
    };
    const result = await deleteByPrefix({ store, index }, "bucket-a", "p/");
    expect(result).toMatchObject({ deleted: 50, failed: 250 });
    expect(result.errors[0]).toEqual({
      key: "p/00000",
      code: "UNAVAILABLE",
      message: "The metadata database is down.",
    });
  });

  it("refuses an empty prefix unless all=true, before touching the store", async () => {
    const { store, deleteRequests } = fakeStore(3);
    const { index } = fakeIndex();
    await expect(deleteByPrefix({ store, index }, "bucket-a", "")).rejects.toMatchObject({
      code: "INVALID_ARGUMENT",
    });
    expect(deleteRequests).toEqual([]);
  });
});
