import { describe, expect, it } from "vitest";
import { Admission } from "./admission.ts";

const limits = { maxUploads: 3, maxBufferedBytes: 100, retryAfterSeconds: 2 };

describe("Admission", () => {
  it("admits up to the upload count, refuses the next with OVERLOADED and a retry hint", () => {
    const admission = new Admission(limits);
    const releases = [admission.admit(1), admission.admit(1), admission.admit(1)];
    expect(() => admission.admit(1)).toThrow(
      expect.objectContaining({
        code: "OVERLOADED",
        details: expect.objectContaining({ retryAfterSeconds: 2, limit: 3 }),
      }),
    );
    expect(admission.stats).toEqual({ uploads: 3, bufferedBytes: 3, refused: 1 });
    releases[0]?.();
    expect(() => admission.admit(1)).not.toThrow();
  });

  it("bounds the bytes buffered across admitted uploads", () => {
    const admission = new Admission(limits);
    const big = admission.admit(80);
    expect(() => admission.admit(30)).toThrow(expect.objectContaining({ code: "OVERLOADED" }));
    const small = admission.admit(20);
    expect(admission.stats.bufferedBytes).toBe(100);
    big();
    small();
    expect(admission.stats).toEqual({ uploads: 0, bufferedBytes: 0, refused: 1 });
  });

  it("releases once, however often release is called", () => {
    const admission = new Admission(limits);
    const release = admission.admit(50);
    const other = admission.admit(10);
    release();
    release();
    expect(admission.stats).toEqual({ uploads: 1, bufferedBytes: 10, refused: 0 });
    other();
  });
});
