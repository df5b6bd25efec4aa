import { describe, expect, it } from "vitest";
import { StorageError } from "../../errors.ts";
import { parseSource } from "./parse.ts";

function failure(source: string, format: "json" | "yaml") {
  try {
    parseSource(source, format);
  } catch (err) {
    expect(err).toBeInstanceOf(StorageError);
    return {
      code: (err as StorageError).code,
      ...(err as StorageError).details,
      message: (err as Error).message,
    };
  }
  throw new Error("parsed");
}

describe("parseSource", () => {
  it("parses YAML and JSON to the same value", () => {
    expect(parseSource("a: 1\nb: [x, true]\n", "yaml")).toEqual({ a: 1, b: ["x", true] });
    expect(parseSource('{"a": 1, "b": ["x", true]}', "json")).toEqual({ a: 1, b: ["x", true] });
  });

  it("refuses broken YAML with the line and column of the error", () => {
    const f = failure("a: 1\nb: [1, 2\nc: 3\n", "yaml");
    expect(f).toMatchObject({ code: "INVALID_ARGUMENT", line: 3, column: 1 });
    expect(f.message).toContain("line 3, column 1");
  });

  it("refuses duplicate YAML keys", () => {
    expect(failure("a: 1\na: 2\n", "yaml")).toMatchObject({ line: 2, column: 1 });
  });

  it("locates JSON errors V8 gives a position for", () => {
    expect(failure('{\n  "a": 1,\n  "b" 2\n}', "json")).toMatchObject({ line: 3, column: 7 });
    expect(failure('{\n "a": 1\n}}', "json")).toMatchObject({ line: 3, column: 2 });
  });

  it("locates JSON errors V8 names no position for", () => {
    expect(failure('{\n  "a": [1, 2,],\n  "b": 2\n}', "json")).toMatchObject({ line: 2, column: 14 });
    expect(failure('{\n  "a": 1,\n  "b": [1, 2,]\n}', "json")).toMatchObject({ line: 3, column: 14 });
    expect(failure('{"a": 1', "json")).toMatchObject({ line: 1, column: 8 });
  });
});
