import { describe, expect, it } from "vitest";
import { FlagCache } from "./flag-cache.ts";
import { parseFlag } from "./flags.ts";

describe("FlagCache", () => {
  const on = { flag: parseFlag({ enabled: true }), version: 1 };
  const off = { flag: parseFlag({ enabled: false }), version: 2 };

  it("reads a flag once within the TTL, again after it, and at once after forget", async () => {
    let now = 0;
    let loads = 0;
    let current = on;
    const cache = new FlagCache(5000, () => now);
    const load = async () => {
      loads++;
      return current;
    };
    expect((await cache.evaluate("f", "s", load)).enabled).toBe(true);
    current = off;
    now = 4999;
    expect((await cache.evaluate("f", "s", load)).enabled).toBe(true);
    expect(loads).toBe(1);
    now = 5000;
    expect(await cache.evaluate("f", "s", load)).toMatchObject({ enabled: false, version: 2 });
    expect(loads).toBe(2);
    current = on;
    cache.forget("f");
    expect((await cache.evaluate("f", "s", load)).enabled).toBe(true);
    expect(loads).toBe(3);
  });

  it("shares one read between concurrent misses, and does not keep a failed one", async () => {
    let loads = 0;
    const cache = new FlagCache(5000, () => 0);
    const slow = async () => {
      loads++;
      await new Promise((resolve) => setImmediate(resolve));
      return on;
    };
    await Promise.all([cache.evaluate("g", "a", slow), cache.evaluate("g", "b", slow)]);
    expect(loads).toBe(1);
    const failing = async (): Promise<typeof on> => {
      throw new Error("store down");
    };
    await expect(cache.evaluate("h", "a", failing)).rejects.toThrow("store down");
    expect((await cache.evaluate("h", "a", async () => on)).enabled).toBe(true);
  });

  it("caches nothing with a TTL of 0", async () => {
    let loads = 0;
    const cache = new FlagCache(0, () => 0);
    const load = async () => {
      loads++;
      return on;
    };
    await cache.evaluate("f", "s", load);
    await cache.evaluate("f", "s", load);
    expect(loads).toBe(2);
  });
});
