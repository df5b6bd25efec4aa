import { describe, expect, it } from "vitest";
import { StorageError } from "../../errors.ts";
import {
  checkAlias,
  checkFileList,
  checkFilePath,
  checkMetadata,
  checkModelType,
  checkRef,
  checkSha256,
  checkVersion,
} from "./names.ts";

const fieldOf = (fn: () => unknown): string | undefined => {
  try {
    fn();
  } catch (err) {
    if (err instanceof StorageError && err.code === "INVALID_ARGUMENT") return String(err.details.field);
    throw err;
  }
  return undefined;
};

describe("model names", () => {
  it("accepts model types and refuses the store's own prefixes and unsafe names", () => {
    expect(checkModelType("sentiment-v2.small_en")).toBe("sentiment-v2.small_en");
    for (const bad of ["", "Upper", "-lead", "a/b", "a..b", "blobs", "staging", "gc", "x".repeat(64)]) {
      expect(
        fieldOf(() => checkModelType(bad)),
        bad,
      ).toBe("modelType");
    }
  });

  it("accepts versions, never 'latest' or a path", () => {
    for (const ok of ["v1", "1.0.0", "1.0.0-rc.1+build.5", "2024-06-01"]) expect(checkVersion(ok)).toBe(ok);
    for (const bad of ["latest", "../v1", "v1/x", ".hidden", "", "v 1"]) {
      expect(
        fieldOf(() => checkVersion(bad)),
        bad,
      ).toBe("version");
    }
  });

  it("keeps 'latest' for the store, and reads accept versions, aliases and latest", () => {
    expect(fieldOf(() => checkAlias("latest"))).toBe("alias");
    expect(fieldOf(() => checkAlias("Prod"))).toBe("alias");
    expect(checkAlias("production")).toBe("production");
    for (const ref of ["latest", "production", "1.2.3", "V2"]) expect(checkRef(ref)).toBe(ref);
    expect(fieldOf(() => checkRef("../x"))).toBe("ref");
  });

  it("refuses file paths that escape or are ambiguous, and lists with a path twice", () => {
    expect(checkFilePath("weights/model.safetensors")).toBe("weights/model.safetensors");
    for (const bad of ["../x", "a/../b", "/abs", "a\\b", "a//b", "dir/", "./a", "a\u202eb", ""]) {
      expect(
        fieldOf(() => checkFilePath(bad)),
        JSON.stringify(bad),
      ).toBe("path");
    }
    expect(fieldOf(() => checkFileList([{ path: "a" }, { path: "a" }]))).toBe("path");
    expect(fieldOf(() => checkFileList([]))).toBe("files");
    // NFC: two spellings of one name are one path.
    expect(fieldOf(() => checkFileList([{ path: "caf\u00e9" }, { path: "cafe\u0301" }]))).toBe("path");
  });

  it("normalises sha256 to lower case and refuses anything but 64 hex digits", () => {
    expect(checkSha256("A".repeat(64))).toBe("a".repeat(64));
    expect(fieldOf(() => checkSha256("g".repeat(64)))).toBe("sha256");
    expect(fieldOf(() => checkSha256("a".repeat(63)))).toBe("sha256");
  });

  it("checks metadata shape and names the member at fault", () => {
    expect(
      checkMetadata({ framework: "onnx", metrics: { f1: 0.9 }, tags: ["nlp"], extra: { team: "x" } }),
    ).toEqual({
      framework: "onnx",
      metrics: { f1: 0.9 },
      tags: ["nlp"],
      extra: { team: "x" },
    });
    expect(fieldOf(() => checkMetadata({ tags: ["has space"] }))).toBe("metadata.tags.0");
    expect(fieldOf(() => checkMetadata({ unknown: 1 } as never))).toMatch(/^metadata/);
    expect(fieldOf(() => checkMetadata({ metrics: { f1: Number.NaN } }))).toBe("metadata.metrics.f1");
    expect(fieldOf(() => checkMetadata({ parentVersion: "../v1" }))).toBe("metadata.parentVersion");
  });
});
