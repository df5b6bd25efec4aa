import { describe, expect, it } from "vitest";
import { Admission } from "./admission.ts";

const limits = { maxUploads: 3, maxBufferedBytes: 100, retryAfterSeconds: 2 };

describe("Admission", () => {
  it("admits up to the upload count, refuses the next with OVERLOADED and a retry hint", () => {
    const admission = new Admission(limits);
    const held = [admission.admit(1), admission.admit(1), admission.admit(1)];
    expect(() => admission.admit(1)).toThrow(
      expect.objectContaining({
        code: "OVERLOADED",
        details: expect.objectContaining({ retryAfterSeconds: 2, limit: 3 }),
      }),
    );
    expect(admission.stats).toEqual({ uploads: 3, bufferedBytes: 3, refused: 1 });
    held[0]?.release();
    expect(() => admission.admit(1)).not.toThrow();
  });

  it("bounds the bytes buffered across admitted uploads", () => {
    const admission = new Admission(limits);
    const big = admission.admit(80);
    expect(() => admission.admit(30)).toThrow(expect.objectContaining({ code: "OVERLOADED" }));
    const small = admission.admit(20);
    expect(admission.stats.bufferedBytes).toBe(100);
    big.release();
    small.release();
    expect(admission.stats).toEqual({ uploads: 0, bufferedBytes: 0, refused: 1 });
  });

  it("releases once, however often release is called", () => {
    const admission = new Admission(limits);
    const first = admission.admit(50);
    const other = admission.admit(10);
    first.release();
    first.release();
    expect(admission.stats).toEqual({ uploads: 1, bufferedBytes: 10, refused: 0 });
    other.release();
  });

  it("grows a reservation while the budget allows, and releases all of it", () => {
    const admission = new Admission(limits);
    const growing = admission.admit(10);
    const other = admission.admit(30);
    expect(growing.growTo(60)).toBe(true);
    expect(admission.stats.bufferedBytes).toBe(90);
    expect(growing.growTo(50)).toBe(true); // never shrinks below what it holds
    expect(admission.stats.bufferedBytes).toBe(90);
    expect(growing.growTo(80)).toBe(false); // 30 + 80 > 100
    expect(admission.stats).toEqual({ uploads: 2, bufferedBytes: 90, refused: 1 });
    growing.release();
    expect(admission.stats.bufferedBytes).toBe(30);
    expect(growing.growTo(1000)).toBe(true); // released: a no-op
    expect(admission.stats.bufferedBytes).toBe(30);
    other.release();
    expect(admission.overloaded("buffered upload bytes")).toMatchObject({ code: "OVERLOADED" });
  });
});
