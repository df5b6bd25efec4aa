/**
 * The `Range` header (RFC 9110 §14), single ranges only. A header we do not serve (another unit,
 * several ranges, bad syntax) is ignored and the whole object is sent, which the RFC allows; a
 * well-formed range that lies outside the object is "unsatisfiable" (416).
 */

export type RangeSpec = { start: number; end?: number } | { suffix: number };

export interface ResolvedRange {
  start: number;
  end: number;
}

const SINGLE = /^bytes=[ \t]*(\d*)[ \t]*-[ \t]*(\d*)[ \t]*$/i;

export function parseRange(header: string | undefined): RangeSpec | undefined {
  if (!header) return undefined;
  const match = SINGLE.exec(header.trim());
  if (!match) return undefined;
  const [, first = "", last = ""] = match;
  if (first === "" && last === "") return undefined;
  if (first === "") {
    const suffix = Number(last);
    return Number.isSafeInteger(suffix) ? { suffix } : undefined;
  }
  const start = Number(first);
  if (!Number.isSafeInteger(start)) return undefined;
  if (last === "") return { start };
  const end = Number(last);
  if (!Number.isSafeInteger(end) || end < start) return undefined;
  return { start, end };
}

/** The range within an object of `size` bytes, or undefined when it is unsatisfiable. */
export function resolveRange(spec: RangeSpec, size: number): ResolvedRange | undefined {
  if ("suffix" in spec) {
    if (spec.suffix === 0 || size === 0) return undefined;
    return { start: Math.max(0, size - spec.suffix), end: size - 1 };
  }
  if (spec.start >= size) return undefined;
  return { start: spec.start, end: Math.min(spec.end ?? size - 1, size - 1) };
}

export const contentRange = (range: ResolvedRange, size: number) =>
  `bytes ${range.start}-${range.end}/${size}`;
