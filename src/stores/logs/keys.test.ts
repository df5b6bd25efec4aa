import { describe, expect, it } from "vitest";
import { compactedKey, hourFile, parseKey, partKey } from "./keys.ts";

describe("log archive keys", () => {
  it("builds and parses compacted and part keys", () => {
    const f = hourFile({ service: "checkout", date: "2026-12-01", hour: 7, filename: "api.log" });
    expect(f).toEqual({ service: "checkout", date: "2026-12-01", hour: "07", filename: "api" });
    expect(compactedKey(f, "gzip")).toBe("checkout/2026-12-01/07/api.log.gz");
    expect(parseKey("checkout/2026-12-01/07/api.log.gz")).toEqual({ ...f, part: false, compression: "gzip" });
    const part = partKey(f, "none", 1_700_000_000_000);
    expect(part).toMatch(/^checkout\/2026-12-01\/07\/_parts\/api\/001700000000000-[0-9a-f]{8}\.log$/);
    expect(parseKey(part)).toEqual({ ...f, part: true, compression: "none" });
    // Stamps sort in write order as text.
    expect(partKey(f, "gzip", 9) < partKey(f, "gzip", 10)).toBe(true);
    expect(parseKey("audit/2026/12/01/07.jsonl.gz")).toBeUndefined();
  });

  it("refuses what is not a service, a calendar date, an hour or a safe filename", () => {
    const bad: Array<[Record<string, unknown>, string]> = [
      [{ service: "Checkout" }, "service"],
      [{ service: "a/b" }, "service"],
      [{ date: "2026-02-29" }, "date"],
      [{ date: "2026-1-01" }, "date"],
      [{ hour: "24" }, "hour"],
      [{ hour: "-1" }, "hour"],
      [{ filename: "../x" }, "filename"],
      [{ filename: "a/b" }, "filename"],
    ];
    for (const [override, field] of bad) {
      const input = { service: "svc", date: "2026-12-01", hour: "1", filename: "app", ...override } as never;
      expect(() => hourFile(input), JSON.stringify(override)).toThrow(
        expect.objectContaining({ code: "INVALID_ARGUMENT", details: { field } }),
      );
    }
    expect(hourFile({ service: "svc", date: "2028-02-29", hour: "23" }).date).toBe("2028-02-29");
  });
});
