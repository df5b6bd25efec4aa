import { describe, expect, it } from "vitest";
import { contentRange, parseRange, resolveRange } from "./range.ts";

describe("parseRange", () => {
  it.each([
    ["bytes=0-499", { start: 0, end: 499 }],
    ["bytes=500-", { start: 500 }],
    ["bytes=-200", { suffix: 200 }],
    ["BYTES=1-2", { start: 1, end: 2 }],
  ])("parses %s", (header, spec) => {
    expect(parseRange(header)).toEqual(spec);
  });

  it.each([
    undefined,
    "",
    "bytes=",
    "bytes=-",
    "bytes=5-1",
    "bytes=0-1,3-4",
    "items=0-1",
    "bytes=a-b",
    "bytes=99999999999999999999-",
  ])("ignores %s", (header) => {
    expect(parseRange(header)).toBeUndefined();
  });
});

describe("resolveRange", () => {
  it("clamps the end, resolves suffixes and refuses what lies outside", () => {
    expect(resolveRange({ start: 5, end: 100 }, 20)).toEqual({ start: 5, end: 19 });
    expect(resolveRange({ start: 5 }, 20)).toEqual({ start: 5, end: 19 });
    expect(resolveRange({ suffix: 3 }, 20)).toEqual({ start: 17, end: 19 });
    expect(resolveRange({ suffix: 50 }, 20)).toEqual({ start: 0, end: 19 });
    expect(resolveRange({ start: 20 }, 20)).toBeUndefined();
    expect(resolveRange({ suffix: 0 }, 20)).toBeUndefined();
    expect(resolveRange({ suffix: 5 }, 0)).toBeUndefined();
  });

  it("formats Content-Range", () => {
    expect(contentRange({ start: 0, end: 9 }, 20)).toBe("bytes 0-9/20");
  });
});
