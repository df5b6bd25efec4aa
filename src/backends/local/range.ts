import type { ErrorDetails } from "../../errors.ts";
import { StorageError } from "../../errors.ts";
import type { ByteRange } from "../object-store.ts";

/** Validates an inclusive range against the object size like S3: clamps `end`, refuses the rest. */
export function rangeWithin(
  range: ByteRange,
  size: number,
  details: ErrorDetails,
): { start: number; end: number } {
  const { start, end } = range;
  if (
    !Number.isSafeInteger(start) ||
    start < 0 ||
    (end !== undefined && (!Number.isSafeInteger(end) || end < 0))
  ) {
    throw new StorageError("INVALID_ARGUMENT", "Range bounds must be non-negative integers.", {
      ...details,
      field: "range",
    });
  }
  if (size === 0 || start >= size || (end !== undefined && start > end)) {
    throw new StorageError("RANGE_NOT_SATISFIABLE", "The requested range is outside the object.", {
      ...details,
      size,
    });
  }
  return { start, end: Math.min(end ?? size - 1, size - 1) };
}
