import { describe, expect, it } from "vitest";
import { extensionOf, validateBucket, validateKey, validateMetadata, validatePrefix } from "./keys.ts";

describe("validateKey", () => {
  it("accepts ordinary keys and NFC-normalises them", () => {
    expect(validateKey("proto-files/svc/v1/a.proto")).toBe("proto-files/svc/v1/a.proto");
    expect(validateKey("dir/")).toBe("dir/");
    expect(validateKey("...dots/file..txt")).toBe("...dots/file..txt");
    const decomposed = "cafe\u0301.txt";
    expect(validateKey(decomposed)).toBe("café.txt");
    expect(validateKey(`${"k".repeat(1020)}.txt`)).toHaveLength(1024);
  });

  it.each([
    "",
    "/a",
    "../a",
    "a/../b",
    "a/.",
    "a\\b",
    "a\u0000b",
    "a\u001fb",
    "a\u007fb",
    "a//b",
    "x".repeat(1025),
  ])("refuses %j", (key) => {
    expect(() => validateKey(key)).toThrowError(expect.objectContaining({ code: "INVALID_ARGUMENT" }));
  });

  it("counts bytes, not characters, against the 1024 limit", () => {
    expect(() => validateKey("€".repeat(342))).toThrowError(/1024 bytes/);
    expect(validateKey("€".repeat(341))).toHaveLength(341);
  });

  it.each([
    ["U+202E", "invoice\u202Efdp.exe"],
    ["U+202A", "a\u202Ab"],
    ["U+2066", "a\u2066b"],
    ["U+2069", "a\u2069b"],
    ["U+200B", "zero\u200Bwidth.txt"],
    ["U+200C", "a\u200Cb"],
    ["U+200D", "a\u200Db"],
    ["U+200E", "a\u200Eb"],
    ["U+200F", "a\u200Fb"],
    ["U+061C", "a\u061Cb"],
    ["U+FEFF", "\uFEFFbom.txt"],
    ["U+2060", "a\u2060b"],
  ])("refuses the invisible character %s, naming it", (name, key) => {
    expect(() => validateKey(key)).toThrowError(
      expect.objectContaining({
        code: "INVALID_ARGUMENT",
        message: expect.stringContaining(name),
        details: { field: "key", codePoint: name },
      }),
    );
  });

  it("names the first invisible character and the prefix field", () => {
    expect(() => validatePrefix("docs/\u200B\u202E/")).toThrowError(
      expect.objectContaining({
        message: expect.stringMatching(/^The prefix must not contain U\+200B /),
        details: { field: "prefix", codePoint: "U+200B" },
      }),
    );
  });

  it("keeps visible neighbours of the refused ranges", () => {
    // Hyphen U+2010, Arabic semicolon U+061B, Hebrew letters (right-to-left, no control), U+FEFE,
    // hyphenation point U+2027: next to the refused ranges but visible.
    for (const key of ["a\u2010b", "a\u061Bb", "\u05D0\u05D1.txt", "a\uFEFEb", "a\u2027b"]) {
      expect(validateKey(key)).toBe(key.normalize("NFC"));
    }
  });

  it("allows an empty prefix but validates a given one", () => {
    expect(validatePrefix(undefined)).toBe("");
    expect(validatePrefix("a/b/")).toBe("a/b/");
    expect(() => validatePrefix("../")).toThrow();
  });
});

describe("validateBucket", () => {
  it.each(["user-data", "abc", "a.b-c", "0bucket9"])("accepts %s", (b) => {
    expect(validateBucket(b)).toBe(b);
  });
  it.each([
    "ab",
    "A",
    "a_b",
    "-ab",
    "ab-",
    "a..b",
    "a.-b",
    "10.0.0.1",
    "xn--abc",
    "abc-s3alias",
    "a".repeat(64),
  ])("refuses %s", (b) => {
    expect(() => validateBucket(b)).toThrowError(expect.objectContaining({ code: "INVALID_ARGUMENT" }));
  });
});

describe("validateMetadata", () => {
  it("lower-cases names and keeps printable values", () => {
    expect(validateMetadata({ Origin: "cli", "x-trace_id": "1" })).toEqual({
      origin: "cli",
      "x-trace_id": "1",
    });
  });
  it("refuses bad names, non-ASCII values and oversized sets", () => {
    expect(() => validateMetadata({ "a b": "x" })).toThrow();
    expect(() => validateMetadata({ a: "é" })).toThrow();
    expect(() => validateMetadata({ a: "x".repeat(3000) })).toThrowError(/2048 bytes/);
  });
});

describe("extensionOf", () => {
  it("reads the last segment's extension", () => {
    expect(extensionOf("a/b/report.PDF")).toBe("pdf");
    expect(extensionOf("a.b/file")).toBe("");
    expect(extensionOf(".bashrc")).toBe("");
    expect(extensionOf("archive.tar.gz")).toBe("gz");
  });
});
