import { describe, expect, it } from "vitest";
import { writeConditionOf } from "./upload-checks.ts";

describe("writeConditionOf", () => {
  it("accepts If-None-Match: * and one ETag in If-Match (quoted or bare)", () => {
    expect(writeConditionOf({})).toBeUndefined();
    expect(writeConditionOf({ ifNoneMatch: " * " })).toEqual({ ifNoneMatch: "*" });
    expect(writeConditionOf({ ifMatch: '"d41d8cd9"' })).toEqual({ ifMatch: '"d41d8cd9"' });
    expect(writeConditionOf({ ifMatch: "d41d8cd9-3" })).toEqual({ ifMatch: '"d41d8cd9-3"' });
  });

  it.each([
    [{ ifNoneMatch: '"abc"' }, "if-none-match"],
    [{ ifNoneMatch: "*, *" }, "if-none-match"],
    [{ ifMatch: "*" }, "if-match"],
    [{ ifMatch: "" }, "if-match"],
    [{ ifMatch: '"a", "b"' }, "if-match"],
    [{ ifMatch: 'W/"a"' }, "if-match"],
    [{ ifMatch: '"a"', ifNoneMatch: "*" }, "if-match"],
  ])("refuses %j as INVALID_ARGUMENT", (req, field) => {
    expect(() => writeConditionOf(req)).toThrow(
      expect.objectContaining({ code: "INVALID_ARGUMENT", details: { field } }),
    );
  });
});
