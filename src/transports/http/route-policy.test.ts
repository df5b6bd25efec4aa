import { describe, expect, it } from "vitest";
import { isOriginForm } from "./route-policy.ts";

describe("isOriginForm", () => {
  it("accepts paths, with or without a query, however they are encoded", () => {
    for (const target of ["/", "/v1/buckets/a/objects/b", "/%761/x", "//v1/x", "/v1?x=1"]) {
      expect(isOriginForm("GET", target), target).toBe(true);
    }
  });

  it("refuses absolute-form targets and anything else that is not a path", () => {
    for (const target of ["http://x/v1/buckets", "HTTPS://x/", "x/v1", "v1/buckets", "", "*"]) {
      expect(isOriginForm("GET", target), target).toBe(false);
    }
    expect(isOriginForm("GET", undefined)).toBe(false);
  });

  it("allows the asterisk-form only for OPTIONS", () => {
    expect(isOriginForm("OPTIONS", "*")).toBe(true);
    expect(isOriginForm("PUT", "*")).toBe(false);
  });
});
