import { describe, expect, it } from "vitest";
import { StorageError } from "../errors.ts";
import { checkExpiryMetadata, expiryOf, refuseExpired, secondsLeft } from "./expiry.ts";

const object = (expiresAt?: string) => ({
  bucket: "temp",
  key: "a.bin",
  metadata: (expiresAt === undefined ? {} : { "expires-at": expiresAt }) as Record<string, string>,
});

describe("object expiry (metadata expires-at)", () => {
  const now = Date.parse("2030-01-01T00:00:00Z");

  it("refuses an object from its expiry instant on, with NOT_FOUND naming the instant", () => {
    expect(() => refuseExpired(object("2030-01-01T00:00:01Z"), now)).not.toThrow();
    for (const at of ["2030-01-01T00:00:00Z", "2029-12-31T23:59:59Z"]) {
      let caught: unknown;
      try {
        refuseExpired(object(at), now);
      } catch (err) {
        caught = err;
      }
      expect(caught).toBeInstanceOf(StorageError);
      expect((caught as StorageError).code).toBe("NOT_FOUND");
      expect((caught as StorageError).message).toContain("expired at");
      expect((caught as StorageError).details.expired).toBe(new Date(at).toISOString());
    }
  });

  it("leaves objects without an expiry alone", () => {
    expect(() => refuseExpired(object(), now)).not.toThrow();
    expect(expiryOf({})).toBeUndefined();
    expect(secondsLeft({}, now)).toBeUndefined();
  });

  it("accepts only ISO 8601 instants in uploads", () => {
    expect(() => checkExpiryMetadata({ "expires-at": "2030-01-01T00:00:00.000Z" })).not.toThrow();
    expect(() => checkExpiryMetadata({})).not.toThrow();
    for (const bad of ["tomorrow", "1893456000", "2030-13-45T00:00:00Z", ""]) {
      expect(() => checkExpiryMetadata({ "expires-at": bad }), bad).toThrow(/ISO 8601/);
    }
  });

  it("counts the seconds left, at least one", () => {
    expect(secondsLeft({ "expires-at": "2030-01-01T00:01:00Z" }, now)).toBe(60);
    expect(secondsLeft({ "expires-at": "2029-01-01T00:00:00Z" }, now)).toBe(1);
  });
});
