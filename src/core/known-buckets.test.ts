import { describe, expect, it } from "vitest";
import type { ObjectStore } from "../backends/object-store.ts";
import { KnownBuckets } from "./known-buckets.ts";

function fakeStore(buckets: Set<string>) {
  const calls: string[] = [];
  const store = {
    bucketExists: async (bucket: string) => {
      calls.push(bucket);
      return buckets.has(bucket);
    },
  } as unknown as ObjectStore;
  return { store, calls };
}

describe("KnownBuckets", () => {
  it("asks the store once per TTL for a bucket that exists", async () => {
    let now = 1_000;
    const { store, calls } = fakeStore(new Set(["a"]));
    const known = new KnownBuckets(store, { ttlMs: 100, now: () => now });
    expect(await known.exists("a")).toBe(true);
    expect(await known.exists("a")).toBe(true);
    expect(calls).toEqual(["a"]);
    now += 101;
    expect(await known.exists("a")).toBe(true);
    expect(calls).toEqual(["a", "a"]);
  });

  it("never remembers a missing bucket, so a new one is seen at once", async () => {
    const buckets = new Set<string>();
    const { store, calls } = fakeStore(buckets);
    const known = new KnownBuckets(store);
    expect(await known.exists("b")).toBe(false);
    buckets.add("b");
    expect(await known.exists("b")).toBe(true);
    expect(calls).toEqual(["b", "b"]);
  });

  it("asks again after forget, and after the store says a bucket is gone", async () => {
    let now = 0;
    const buckets = new Set(["c"]);
    const { store, calls } = fakeStore(buckets);
    const known = new KnownBuckets(store, { ttlMs: 100, now: () => now });
    await known.exists("c");
    known.forget("c");
    buckets.delete("c");
    expect(await known.exists("c")).toBe(false);
    buckets.add("c");
    now += 1;
    expect(await known.exists("c")).toBe(true);
    expect(calls).toEqual(["c", "c", "c"]);
  });
});
