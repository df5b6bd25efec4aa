import { describe, expect, it } from "vitest";
import {
  checkParts,
  MAX_PARTS,
  MIN_PART_SIZE,
  partSizeOf,
  planParts,
  sha256Base64,
} from "./session-parts.ts";

const MiB = 1024 ** 2;
const GiB = 1024 ** 3;

describe("upload session parts", () => {
  it("plans with the requested part size, the last part holding the remainder", () => {
    const plan = { size: GiB + 1, ...planParts(GiB + 1, 64 * MiB, 16 * MiB) };
    expect(plan).toMatchObject({ partSize: 64 * MiB, partCount: 17 });
    expect(partSizeOf(16, plan)).toBe(64 * MiB);
    expect(partSizeOf(17, plan)).toBe(1);
  });

  it("grows the default part size to fit 10,000 parts, and refuses a requested one that does not", () => {
    const plan = planParts(1000 * GiB, undefined, 16 * MiB);
    expect(plan.partCount).toBeLessThanOrEqual(MAX_PARTS);
    expect(plan.partSize % MiB).toBe(0);
    expect(() => planParts(1000 * GiB, 16 * MiB, 16 * MiB)).toThrow(/at most 10000/);
    expect(() => planParts(GiB, MIN_PART_SIZE - 1, 16 * MiB)).toThrow(/5 MiB/);
    expect(planParts(0, undefined, 16 * MiB).partCount).toBe(1);
  });

  it("refuses completion with a missing part or one of another size, naming them", () => {
    const plan = { size: 25 * MiB, partSize: 10 * MiB, partCount: 3 };
    const part = (n: number, size: number) => ({ partNumber: n, size, etag: `"e${n}"` });
    expect(
      checkParts([part(3, 5 * MiB), part(1, 10 * MiB), part(2, 10 * MiB)], plan).map((p) => p.partNumber),
    ).toEqual([1, 2, 3]);
    expect(() => checkParts([part(1, 10 * MiB)], plan)).toThrow(/missing 2 of 3 parts \(2, 3\)/);
    try {
      checkParts([part(1, 10 * MiB), part(2, 9 * MiB), part(3, 5 * MiB)], plan);
      expect.unreachable();
    } catch (err) {
      expect(err).toMatchObject({ code: "PRECONDITION_FAILED", details: { wrongSize: "2" } });
    }
  });

  it("turns a hex sha256 into the base64 S3 checksum headers carry", () => {
    const hex = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
    expect(sha256Base64(hex)).toBe("47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=");
    expect(() => sha256Base64("abc", "parts[0].sha256")).toThrow(
      expect.objectContaining({ code: "INVALID_ARGUMENT" }),
    );
  });
});
