import type { FastifyRequest } from "fastify";
import { describe, expect, it } from "vitest";
import { isAllowed, type Principal, parseScope } from "../../security/index.ts";
import { normaliseKey, pathParams, queryString } from "./access.ts";

const principal = (...scopes: string[]): Principal => ({
  keyId: "k".repeat(16),
  service: "test",
  scopes: scopes.map(parseScope),
});

const request = (query: Record<string, unknown>, params: Record<string, string> = {}) =>
  ({ query, params }) as unknown as FastifyRequest;

describe("normaliseKey", () => {
  it("judges the NFC key the store keeps, so a combining mark cannot step out of a prefix", () => {
    const p = principal("docs/docs/cafe:write");
    const decomposed = "docs/cafe\u0301.txt"; // starts with "docs/cafe", but is stored as "docs/café.txt"
    expect(isAllowed(p, "write", "docs", decomposed)).toBe(true);
    expect(isAllowed(p, "write", "docs", normaliseKey(decomposed))).toBe(false);
    expect(normaliseKey(decomposed)).toBe("docs/caf\u00e9.txt");
  });
});

describe("queryString and pathParams", () => {
  it("take single strings only: a repeated or missing value is undefined", () => {
    expect(queryString(request({ prefix: "a/" }), "prefix")).toBe("a/");
    expect(queryString(request({ prefix: ["a/", "b/"] }), "prefix")).toBeUndefined();
    expect(queryString(request({}), "prefix")).toBeUndefined();
  });

  it("read the bucket and the wildcard rest of the path", () => {
    expect(pathParams(request({}, { bucket: "b", "*": "x/y.txt" }))).toEqual({
      bucket: "b",
      rest: "x/y.txt",
    });
    expect(pathParams(request({}, {}))).toEqual({ bucket: "", rest: "" });
  });
});
