import pino from "pino";
import { describe, expect, it } from "vitest";
import { LogBatcher } from "./batcher.ts";
import type { HourFile } from "./keys.ts";

const file = (hour: string): HourFile => ({ service: "svc", date: "2026-12-01", hour, filename: "app" });

describe("LogBatcher", () => {
  it("writes one batch per size bound and the rest on flushAll, in order", async () => {
    const writes: Array<{ hour: string; lines: string[] }> = [];
    const b = new LogBatcher({
      flushBytes: 100,
      flushIntervalSeconds: 3600,
      logger: pino({ level: "silent" }),
      write: async (f, lines) => {
        writes.push({ hour: f.hour, lines });
      },
    });
    for (let i = 0; i < 30; i++) await b.append(file("01"), [`line-${String(i).padStart(2, "0")}`]);
    await b.append(file("02"), ["other hour"]);
    expect(writes.length).toBe(2); // 30 lines of 8 bytes each (with the newline): 13 make a batch
    expect(b.pendingLines).toBe(5);
    await b.flushAll();
    expect(b.pendingLines).toBe(0);
    expect(writes.filter((w) => w.hour === "01").flatMap((w) => w.lines)).toEqual(
      Array.from({ length: 30 }, (_, i) => `line-${String(i).padStart(2, "0")}`),
    );
    expect(writes.find((w) => w.hour === "02")?.lines).toEqual(["other hour"]);
  });

  it("keeps a batch whose write failed, ahead of newer lines, for the next flush", async () => {
    let fail = true;
    const written: string[][] = [];
    const b = new LogBatcher({
      flushBytes: 1_000_000,
      flushIntervalSeconds: 3600,
      logger: pino({ level: "silent" }),
      write: async (_f, lines) => {
        if (fail) throw new Error("store down");
        written.push(lines);
      },
    });
    await b.append(file("01"), ["a", "b"]);
    await expect(b.flushAll()).rejects.toThrow("store down");
    await b.append(file("01"), ["c"]);
    expect(b.pendingLines).toBe(3);
    fail = false;
    await b.flushAll();
    expect(written).toEqual([["a", "b", "c"]]);
  });
});
