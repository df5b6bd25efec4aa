import { describe, expect, it } from "vitest";
import { mapBounded } from "./bounded.ts";

/** A call the test finishes by hand, so ordering is decided by the test, not by timers. */
function deferred<T = void>() {
  let resolve!: (value: T) => void;
  let reject!: (err: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

const ticks = async (n = 5) => {
  for (let i = 0; i < n; i++) await Promise.resolve();
};

describe("mapBounded", () => {
  it("keeps input order whatever order the calls finish in, and never exceeds the limit", async () => {
    const gates = Array.from({ length: 7 }, () => deferred());
    let running = 0;
    let peak = 0;
    const done = mapBounded([0, 1, 2, 3, 4, 5, 6], 3, async (n) => {
      running++;
      peak = Math.max(peak, running);
      await gates[n]?.promise;
      running--;
      return n * 10;
    });
    await ticks();
    expect(running).toBe(3);
    // Finish out of order: the last started first.
    for (const n of [2, 0, 1, 5, 3, 4, 6]) {
      gates[n]?.resolve();
      await ticks();
    }
    expect(await done).toEqual([0, 10, 20, 30, 40, 50, 60]);
    expect(peak).toBe(3);
  });

  it("starts items in order and passes each its index", async () => {
    const started: Array<[string, number]> = [];
    await mapBounded(["a", "b", "c", "d"], 2, async (item, index) => {
      started.push([item, index]);
    });
    expect(started).toEqual([
      ["a", 0],
      ["b", 1],
      ["c", 2],
      ["d", 3],
    ]);
  });

  it("runs one at a time for a limit below one or not a number, and nothing for no items", async () => {
    for (const limit of [0, -3, Number.NaN, 0.5]) {
      let running = 0;
      let peak = 0;
      const out = await mapBounded([1, 2, 3], limit, async (n) => {
        peak = Math.max(peak, ++running);
        await ticks(1);
        running--;
        return n;
      });
      expect({ limit, out, peak }).toEqual({ limit, out: [1, 2, 3], peak: 1 });
    }
    let calls = 0;
    expect(await mapBounded([], 4, async () => ++calls)).toEqual([]);
    expect(calls).toBe(0);
  });

  it("on the first failure starts nothing more, aborts the running calls, and rejects once they settled", async () => {
    const slow = deferred();
    const started: number[] = [];
    let slowSawAbort = false;
    let slowSettled = false;
    const boom = new Error("boom");
    const result = mapBounded([0, 1, 2, 3, 4], 2, async (n, _i, signal) => {
      started.push(n);
      if (n === 0) {
        signal.addEventListener("abort", () => {
          slowSawAbort = true;
          slow.resolve();
        });
        await slow.promise;
        slowSettled = true;
        throw new Error("aborted, and failing later");
      }
      if (n === 1) throw boom;
      return n;
    });
    await expect(
      result.catch((err: unknown) => {
        // Rejected only after the running call had settled.
        expect(slowSettled).toBe(true);
        throw err;
      }),
    ).rejects.toBe(boom);
    expect(slowSawAbort).toBe(true);
    expect(started).toEqual([0, 1]);
  });

  it("handles a call that throws synchronously", async () => {
    const bad = new Error("sync");
    const fn = ((n: number) => {
      if (n === 1) throw bad;
      return Promise.resolve(n);
    }) as (n: number) => Promise<number>;
    await expect(mapBounded([0, 1, 2], 1, fn)).rejects.toBe(bad);
  });

  it("with an already aborted signal calls nothing and rejects with its reason", async () => {
    const reason = new Error("stop");
    let calls = 0;
    await expect(
      mapBounded([1, 2], 2, async () => ++calls, { signal: AbortSignal.abort(reason) }),
    ).rejects.toBe(reason);
    expect(calls).toBe(0);
  });

  it("on an abort mid-way starts nothing more, aborts the running calls, and rejects with the reason", async () => {
    const controller = new AbortController();
    const reason = new Error("caller gave up");
    const first = deferred();
    const started: number[] = [];
    let runningSawAbort = false;
    const result = mapBounded(
      [0, 1, 2, 3],
      2,
      async (n, _i, signal) => {
        started.push(n);
        if (n === 0) return first.promise;
        await new Promise<void>((_resolve, reject) =>
          signal.addEventListener("abort", () => {
            runningSawAbort = true;
            reject(new Error("request aborted"));
          }),
        );
      },
      { signal: controller.signal },
    );
    await ticks();
    controller.abort(reason);
    first.resolve();
    await expect(result).rejects.toBe(reason);
    expect(runningSawAbort).toBe(true);
    expect(started).toEqual([0, 1]);
  });
});
