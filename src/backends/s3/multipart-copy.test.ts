import { describe, expect, it } from "vitest";
import { StorageError } from "../../errors.ts";
import {
  COPY_DEFAULTS,
  copySourceOf,
  type PartRange,
  planCopyParts,
  S3_PART_LIMITS,
} from "./multipart-copy.ts";

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;
const TiB = 1024 * GiB;

/** The invariants every plan must hold, whatever the size (one expect: plans run to 10,000 parts). */
function expectValidPlan(parts: PartRange[], size: number): void {
  const { minPartSize, maxPartSize, maxParts } = S3_PART_LIMITS;
  const problems: string[] = [];
  let expected = 0;
  parts.forEach((part, i) => {
    const length = part.end - part.start + 1;
    if (part.partNumber !== i + 1) problems.push(`part ${i} numbered ${part.partNumber}`);
    if (part.start !== expected) problems.push(`part ${i} starts at ${part.start}, not ${expected}`);
    if (length < 1 || length > maxPartSize) problems.push(`part ${i} has ${length} bytes`);
    if (i < parts.length - 1 && length < minPartSize) problems.push(`part ${i} is under the minimum`);
    expected = part.end + 1;
  });
  if (expected !== size) problems.push(`covers ${expected} of ${size} bytes`);
  if (parts.length > maxParts) problems.push(`${parts.length} parts`);
  expect(problems).toEqual([]);
}

describe("planCopyParts", () => {
  it("splits into consecutive ranges of the part size, the last one shorter", () => {
    const parts = planCopyParts(23 * MiB, 5 * MiB);
    expect(parts).toEqual([
      { partNumber: 1, start: 0, end: 5 * MiB - 1 },
      { partNumber: 2, start: 5 * MiB, end: 10 * MiB - 1 },
      { partNumber: 3, start: 10 * MiB, end: 15 * MiB - 1 },
      { partNumber: 4, start: 15 * MiB, end: 20 * MiB - 1 },
      { partNumber: 5, start: 20 * MiB, end: 23 * MiB - 1 },
    ]);
    expectValidPlan(parts, 23 * MiB);
  });

  it("covers sizes exactly, on and off part boundaries", () => {
    for (const size of [1, 5 * MiB - 1, 5 * MiB, 5 * MiB + 1, 10 * MiB, 10 * MiB + 7, 5 * GiB + 1]) {
      expectValidPlan(planCopyParts(size, 5 * MiB), size);
    }
    expect(planCopyParts(10 * MiB, 5 * MiB)).toHaveLength(2);
    expect(planCopyParts(10 * MiB + 1, 5 * MiB)).toHaveLength(3);
    expect(planCopyParts(3, 5 * MiB)).toEqual([{ partNumber: 1, start: 0, end: 2 }]);
    expect(planCopyParts(0, 5 * MiB)).toEqual([]);
  });

  it("raises a part size below S3's 5 MiB minimum", () => {
    const parts = planCopyParts(12 * MiB, 1 * MiB);
    expect(parts.map((p) => p.end - p.start + 1)).toEqual([5 * MiB, 5 * MiB, 2 * MiB]);
  });

  it("uses the default part size for a just-over-threshold object", () => {
    const size = COPY_DEFAULTS.threshold + 1;
    const parts = planCopyParts(size, COPY_DEFAULTS.partSize);
    expect(parts).toHaveLength(11);
    expect(parts[0]?.end).toBe(COPY_DEFAULTS.partSize - 1);
    expectValidPlan(parts, size);
  });

  it("grows the part size to stay within 10,000 parts for huge objects", () => {
    const size = 5 * TiB; // S3's largest object
    const parts = planCopyParts(size, COPY_DEFAULTS.partSize);
    expectValidPlan(parts, size);
    const first = (parts[0] as PartRange).end + 1;
    expect(first).toBeGreaterThan(COPY_DEFAULTS.partSize);
    expect(first % MiB).toBe(0); // grown in whole MiB
    expect(first * S3_PART_LIMITS.maxParts).toBeGreaterThanOrEqual(size);

    // Exactly 10,000 default-sized parts still fit without growing.
    const fits = COPY_DEFAULTS.partSize * S3_PART_LIMITS.maxParts;
    const atLimit = planCopyParts(fits, COPY_DEFAULTS.partSize);
    expect(atLimit).toHaveLength(S3_PART_LIMITS.maxParts);
    expect((atLimit[0] as PartRange).end + 1).toBe(COPY_DEFAULTS.partSize);
    // One byte more and the parts grow rather than spill into part 10,001.
    expectValidPlan(planCopyParts(fits + 1, COPY_DEFAULTS.partSize), fits + 1);
  });

  it("caps the part size at S3's 5 GiB maximum and refuses what cannot fit", () => {
    const parts = planCopyParts(12 * GiB, 8 * GiB);
    expect(parts.map((p) => p.end - p.start + 1)).toEqual([5 * GiB, 5 * GiB, 2 * GiB]);
    const tooBig = S3_PART_LIMITS.maxPartSize * S3_PART_LIMITS.maxParts + 1;
    expect(() => planCopyParts(tooBig, COPY_DEFAULTS.partSize)).toThrow(StorageError);
    expect(() => planCopyParts(-1, 5 * MiB)).toThrow(RangeError);
    expect(() => planCopyParts(1.5, 5 * MiB)).toThrow(RangeError);
  });
});

describe("copySourceOf", () => {
  it("encodes the key but keeps its slashes, and appends the version", () => {
    expect(copySourceOf("b", "a dir/ä+x.bin")).toBe("b/a%20dir/%C3%A4%2Bx.bin");
    expect(copySourceOf("b", "k", "v/1")).toBe("b/k?versionId=v%2F1");
  });
});
