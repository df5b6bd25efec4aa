import { describe, expect, it } from "vitest";
import { compareVersionText, parseSemVer, requireSemVer } from "./semver.ts";

describe("semver", () => {
  it("parses strict semantic versions", () => {
    expect(parseSemVer("1.2.3")).toEqual({ major: 1, minor: 2, patch: 3, prerelease: [], build: [] });
    expect(parseSemVer("2.0.0-rc.1+build.5")).toEqual({
      major: 2,
      minor: 0,
      patch: 0,
      prerelease: ["rc", "1"],
      build: ["build", "5"],
    });
    for (const bad of [
      "v1.0.0",
      "1.0",
      "01.0.0",
      "1.0.0-01",
      "1.0.0-",
      "1.0.0+",
      "latest",
      " 1.0.0",
      "1.0.0/x",
    ]) {
      expect(parseSemVer(bad), bad).toBeUndefined();
    }
    expect(() => requireSemVer("../1.0.0")).toThrow(expect.objectContaining({ code: "INVALID_ARGUMENT" }));
  });

  it("orders versions by precedence, as the spec's example does", () => {
    const ordered = [
      "1.0.0-alpha",
      "1.0.0-alpha.1",
      "1.0.0-alpha.beta",
      "1.0.0-beta",
      "1.0.0-beta.2",
      "1.0.0-beta.11",
      "1.0.0-rc.1",
      "1.0.0",
      "1.2.0",
      "1.10.0",
      "2.0.0",
    ];
    const shuffled = [...ordered].reverse();
    expect(shuffled.sort(compareVersionText)).toEqual(ordered);
  });
});
