import { describe, expect, it } from "vitest";
import { StorageError } from "../../errors.ts";
import { evaluate, parseFlag, rolloutBucket } from "./flags.ts";
import type { JsonValue } from "./types.ts";

describe("feature flags", () => {
  it("gives a subject the same answer every time", () => {
    const flag = parseFlag({ enabled: true, rollout: 50 });
    const first = Array.from({ length: 200 }, (_, i) => evaluate("checkout", flag, `user-${i}`).enabled);
    const again = Array.from({ length: 200 }, (_, i) => evaluate("checkout", flag, `user-${i}`).enabled);
    expect(again).toEqual(first);
    expect(rolloutBucket("checkout", "user-7")).toBe(rolloutBucket("checkout", "user-7"));
  });

  it("turns on the rollout percentage of 10,000 subjects, within 2 points", () => {
    for (const rollout of [5, 25, 50, 90]) {
      const flag = parseFlag({ enabled: true, rollout });
      let on = 0;
      for (let i = 0; i < 10_000; i++) if (evaluate("search-v2", flag, `subject-${i}`).enabled) on++;
      expect(Math.abs(on / 100 - rollout)).toBeLessThanOrEqual(2);
    }
  });

  it("applies deny before allow, and allow before the rollout; disabled wins", () => {
    const flag = parseFlag({ enabled: true, rollout: 0, allow: ["a", "b"], deny: ["b"] });
    expect(evaluate("f", flag, "a")).toEqual({ enabled: true, reason: "allowed" });
    expect(evaluate("f", flag, "b")).toEqual({ enabled: false, reason: "denied" });
    expect(evaluate("f", flag, "c")).toEqual({ enabled: false, reason: "not-in-rollout" });
    expect(evaluate("f", { ...flag, enabled: false }, "a")).toEqual({ enabled: false, reason: "disabled" });
  });

  it("refuses a malformed flag document, naming the field", () => {
    const bads: JsonValue[] = [
      { rollout: 10 },
      { enabled: true, rollout: 101 },
      { enabled: "yes" },
      { enabled: true, extra: 1 },
    ];
    for (const bad of bads) {
      expect(() => parseFlag(bad)).toThrow(StorageError);
    }
    expect(() => parseFlag({ enabled: true, rollout: 150 })).toThrow(/rollout/);
  });
});
