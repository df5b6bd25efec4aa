import { describe, expect, it } from "vitest";
import { wantsPretty } from "./log.ts";

describe("wantsPretty (LOG_FORMAT)", () => {
  it("auto: pretty on a terminal, JSON for pipes and files", () => {
    expect(wantsPretty("auto", true)).toBe(true);
    expect(wantsPretty("auto", false)).toBe(false);
    expect(wantsPretty(undefined, true)).toBe(true);
  });

  it("json and pretty win over the terminal check", () => {
    expect(wantsPretty("json", true)).toBe(false);
    expect(wantsPretty("pretty", false)).toBe(true);
  });
});
