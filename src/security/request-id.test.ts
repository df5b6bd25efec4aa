import { describe, expect, it } from "vitest";
import { isSafeRequestId, safeRequestId } from "./request-id.ts";
import { formatToken, generateKeyId, generateSecret } from "./tokens.ts";

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

describe("safeRequestId", () => {
  it("keeps a short id of letters, digits, '.', '_' and '-'", () => {
    for (const id of ["a", "abc-123.def_ghi", "X".repeat(128), "3f2b1c9e-0000-4000-8000-000000000000"]) {
      expect(safeRequestId(id)).toBe(id);
    }
  });

  it("replaces anything outside the format with a fresh UUID", () => {
    const bad: unknown[] = [
      undefined,
      null,
      42,
      ["a"],
      "",
      "x".repeat(129),
      "has space",
      "line\nbreak",
      "{json}",
      "a:b",
      "a/b",
      "a=b",
      "a+b",
      "ünïcode",
    ];
    for (const value of bad) expect(safeRequestId(value), String(value)).toMatch(UUID);
    const first = safeRequestId(undefined);
    expect(safeRequestId(undefined)).not.toBe(first);
  });

  it("never keeps an API key token, whole or embedded, in any case", () => {
    const token = formatToken(generateKeyId(), generateSecret());
    const id = token.slice(4, 20);
    for (const value of [
      token,
      `req-${token}`,
      `x_${token}`,
      `${token}.1`,
      token.toUpperCase(),
      `lss_${id}_`,
      `lss_${id}_short`,
    ]) {
      expect(isSafeRequestId(value), value).toBe(false);
      const replaced = safeRequestId(value);
      expect(replaced).toMatch(UUID);
      expect(replaced).not.toContain(id);
    }
  });

  it("keeps text that merely mentions the prefix or a bare key id (ids are public)", () => {
    expect(safeRequestId("glass_house")).toBe("glass_house");
    expect(safeRequestId("lss_abcdefghijklmnop")).toBe("lss_abcdefghijklmnop");
  });
});
