import { describe, expect, it } from "vitest";
import type { ListOptions, ListPage } from "../backends/object-store.ts";
import { decodeCursor, encodeCursor } from "../cursor.ts";
import { type DeletePrefixProgress, deleteByPrefix } from "./delete-prefix.ts";

/** A store listing of `count` keys under "p/", paged as a backend pages, recording what was asked. */
function pagedStore(count: number) {
  const keys = Array.from({ length: count }, (_, i) => `p/${String(i).padStart(5, "0")}`);
  const pages: number[] = [];
  const list = async (_bucket: string, options: ListOptions): Promise<ListPage> => {
    const start = options.cursor ? keys.indexOf(decodeCursor(options.cursor)) + 1 : 0;
    const slice = keys.slice(start, start + (options.limit ?? 1000));
    pages.push(slice.length);
    const last = slice.at(-1);
    return {
      objects: slice.map((key) => ({ key, size: 1, etag: '"e"', lastModified: new Date(0) })),
      prefixes: [],
      ...(last && start + slice.length < keys.length ? { nextCursor: encodeCursor(last) } : {}),
    };
  };
  return { list, pages };
}

describe("deleteByPrefix", () => {
  it("walks the prefix a bounded page at a time and reports progress after each batch", async () => {
    const store = pagedStore(2500);
    const removed: string[] = [];
    const seen: DeletePrefixProgress[] = [];
    const result = await deleteByPrefix(
      {
        store,
        remove: async (_bucket, key) => {
          if (key === "p/01234") throw new Error("boom");
          removed.push(key);
        },
      },
      "bucket-a",
      "p/",
      { onProgress: (p) => seen.push(p) },
    );
    expect(store.pages).toEqual([1000, 1000, 500]);
    expect(result).toMatchObject({ deleted: 2499, failed: 1 });
    expect(removed).toHaveLength(2499);
    expect(seen).toEqual([
      { listed: 1000, deleted: 1000, failed: 0 },
      { listed: 2000, deleted: 1999, failed: 1 },
      { listed: 2500, deleted: 2499, failed: 1 },
    ]);
  });
});
