import { describe, expect, it } from "vitest";
import { diffValues } from "./diff.ts";

describe("diffValues", () => {
  it("reports added, removed and changed paths as JSON Pointers", () => {
    const d = diffValues(
      { a: 1, b: { c: "x", "d/e": true }, list: [1, 2, 3], gone: null },
      { a: 2, b: { c: "x", "d/e": false, n: 5 }, list: [1, 2], kind: "new" },
    );
    expect(d.changed).toEqual([
      { path: "/a", from: 1, to: 2 },
      { path: "/b/d~1e", from: true, to: false },
    ]);
    expect(d.removed).toEqual([
      { path: "/list/2", from: 3 },
      { path: "/gone", from: null },
    ]);
    expect(d.added).toEqual([
      { path: "/b/n", to: 5 },
      { path: "/kind", to: "new" },
    ]);
  });

  it("treats a change of type as one change", () => {
    expect(diffValues({ a: [1] }, { a: { x: 1 } })).toEqual({
      added: [],
      removed: [],
      changed: [{ path: "/a", from: [1], to: { x: 1 } }],
    });
  });

  it("finds nothing between equal documents", () => {
    expect(diffValues({ a: [{ b: 1 }] }, { a: [{ b: 1 }] })).toEqual({ added: [], removed: [], changed: [] });
  });
});
