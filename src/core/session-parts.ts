import type { StoredPart } from "../backends/object-store.ts";
import { StorageError } from "../errors.ts";

/** S3's multipart rules: parts of at least 5 MiB (but the last), at most 5 GiB, at most 10,000 of them. */
export const MIN_PART_SIZE = 5 * 1024 ** 2;
export const MAX_PART_SIZE = 5 * 1024 ** 3;
export const MAX_PARTS = 10_000;

const MiB = 1024 ** 2;

/**
 * The part size and count of a session: the requested part size (checked against S3's rules), or
 * the default grown in whole MiB until the object fits in 10,000 parts.
 */
export function planParts(
  size: number,
  requested: number | undefined,
  fallback: number,
): { partSize: number; partCount: number } {
  if (requested !== undefined) {
    if (!Number.isSafeInteger(requested) || requested < MIN_PART_SIZE || requested > MAX_PART_SIZE) {
      throw new StorageError(
        "INVALID_ARGUMENT",
        `The part size must be a whole number of bytes from ${MIN_PART_SIZE} (5 MiB) to ${MAX_PART_SIZE} (5 GiB).`,
        { field: "partSize" },
      );
    }
    const partCount = Math.max(1, Math.ceil(size / requested));
    if (partCount > MAX_PARTS) {
      throw new StorageError(
        "INVALID_ARGUMENT",
        `A part size of ${requested} bytes needs ${partCount} parts; at most ${MAX_PARTS} are allowed: choose a larger part size.`,
        { field: "partSize", limit: MAX_PARTS },
      );
    }
    return { partSize: requested, partCount };
  }
  const needed = Math.ceil(Math.ceil(size / MAX_PARTS) / MiB) * MiB;
  const partSize = Math.min(Math.max(fallback, MIN_PART_SIZE, needed), MAX_PART_SIZE);
  return { partSize, partCount: Math.max(1, Math.ceil(size / partSize)) };
}

/** The size part `n` (1-based) must have. */
export const partSizeOf = (n: number, plan: { size: number; partSize: number; partCount: number }) =>
  n < plan.partCount ? plan.partSize : plan.size - plan.partSize * (plan.partCount - 1);

/**
 * The parts to complete with: exactly 1..partCount, each of its planned size. A part missing or of
 * another size is refused with PRECONDITION_FAILED naming the part numbers (the client uploads them
 * again and retries); nothing is completed.
 */
export function checkParts(
  stored: StoredPart[],
  plan: { size: number; partSize: number; partCount: number },
): StoredPart[] {
  const byNumber = new Map(stored.map((p) => [p.partNumber, p]));
  const missing: number[] = [];
  const wrongSize: number[] = [];
  const parts: StoredPart[] = [];
  for (let n = 1; n <= plan.partCount; n++) {
    const part = byNumber.get(n);
    if (!part) missing.push(n);
    else if (part.size !== partSizeOf(n, plan)) wrongSize.push(n);
    else parts.push(part);
  }
  if (missing.length > 0) {
    throw new StorageError(
      "PRECONDITION_FAILED",
      `The session is missing ${missing.length} of ${plan.partCount} parts (${listed(missing)}): upload them, then complete again.`,
      { field: "parts", missing: listed(missing) },
    );
  }
  if (wrongSize.length > 0) {
    throw new StorageError(
      "PRECONDITION_FAILED",
      `Parts ${listed(wrongSize)} do not have their planned size (${plan.partSize} bytes each, the last one the remainder): upload them again.`,
      { field: "parts", wrongSize: listed(wrongSize) },
    );
  }
  return parts;
}

/** At most 20 numbers, then how many more: a message stays short for a 10,000-part session. */
const listed = (numbers: number[]) =>
  numbers.length <= 20
    ? numbers.join(", ")
    : `${numbers.slice(0, 20).join(", ")} and ${numbers.length - 20} more`;

/** Hex sha256 (as the API takes it) to base64 (as S3's checksum headers carry it). */
export function sha256Base64(hex: string, field = "sha256"): string {
  if (!/^[0-9a-fA-F]{64}$/.test(hex)) {
    throw new StorageError("INVALID_ARGUMENT", "A sha256 must be 64 hex characters.", { field });
  }
  return Buffer.from(hex, "hex").toString("base64");
}
