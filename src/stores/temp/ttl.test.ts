import { describe, expect, it } from "vitest";
import { resolveExpiry } from "./ttl.ts";

const limits = { defaultTtlSeconds: 3600, maxTtlSeconds: 86_400 };
const now = Date.parse("2030-01-01T00:00:00Z");

describe("resolveExpiry", () => {
  it("takes the ttl, the instant, or the default", () => {
    expect(resolveExpiry({ ttlSeconds: 2 }, limits, now).toISOString()).toBe("2030-01-01T00:00:02.000Z");
    const at = new Date("2030-01-01T06:00:00Z");
    expect(resolveExpiry({ expiresAt: at }, limits, now)).toEqual(at);
    expect(resolveExpiry({}, limits, now).toISOString()).toBe("2030-01-01T01:00:00.000Z");
  });

  it("refuses both, past instants, and anything beyond the maximum", () => {
    const refused = [
      { ttlSeconds: 2, expiresAt: new Date(now + 5000) },
      { ttlSeconds: 0 },
      { ttlSeconds: 1.5 },
      { ttlSeconds: 86_401 },
      { expiresAt: new Date(now) },
      { expiresAt: new Date(now + 86_401_000) },
      { expiresAt: new Date("nonsense") },
    ];
    for (const req of refused) {
      expect(() => resolveExpiry(req, limits, now), JSON.stringify(req)).toThrow(
        expect.objectContaining({ code: "INVALID_ARGUMENT" }),
      );
    }
  });
});
