import { StorageError } from "../errors.ts";

/**
 * Key ranges for listings over the (bucket, key) index. The key column uses the "C" collation, so
 * PostgreSQL compares keys as UTF-8 bytes, which is code point order and the order S3 lists in:
 * the keys that start with a string S are exactly the range [S, prefixEnd(S)), an index range
 * that a seek can start at or jump past.
 */

/**
 * The least string greater than every string that starts with `prefix` (undefined when there is
 * none: empty, or only U+10FFFF): the last code point below U+10FFFF, incremented, with what
 * follows it dropped. Surrogates are not characters, so U+D7FF is followed by U+E000.
 */
export function prefixEnd(prefix: string): string | undefined {
  const points = Array.from(prefix);
  while (points.length > 0) {
    const last = points.pop()?.codePointAt(0) ?? 0;
    if (last < 0x10ffff) return points.join("") + String.fromCodePoint(last === 0xd7ff ? 0xe000 : last + 1);
  }
  return undefined;
}

/** The least string greater than `s`: text cannot hold U+0000, so s + U+0001 follows s directly. */
export const after = (s: string): string => `${s}\u0001`;

/** Code point order (UTF-8 byte order), the order PostgreSQL's "C" collation compares in. */
export const compareKeys = (a: string, b: string): number => Buffer.compare(Buffer.from(a), Buffer.from(b));

/** Length in code points, the unit of PostgreSQL's substr() and strpos() on UTF-8 text. */
export const charLength = (s: string): number => Array.from(s).length;

/**
 * Where a folder listing under `prefix` resumes after the entry `cursor` (the last entry of the
 * previous page, a key or a common prefix): the first key whose entry sorts after it. A cursor that
 * lies inside a common prefix (it is one, or a key under one) skips that whole common prefix, which
 * was listed already. Undefined when nothing can follow.
 */
export function folderResume(prefix: string, delimiter: string, cursor: string): string | undefined {
  let from = after(cursor);
  if (cursor.startsWith(prefix)) {
    const at = cursor.indexOf(delimiter, prefix.length);
    if (at >= 0) {
      const end = prefixEnd(cursor.slice(0, at + delimiter.length));
      if (end === undefined) return undefined;
      from = end;
    }
  }
  return compareKeys(from, prefix) < 0 ? prefix : from;
}

/**
 * What skips a common prefix: P + delimiter is followed by P + delimiterEnd(delimiter) (prefixEnd
 * of P + delimiter, as long as the delimiter has a character below U+10FFFF to increment; the
 * transports only ever pass "/").
 */
export function delimiterEnd(delimiter: string): string {
  const end = prefixEnd(delimiter);
  if (end === undefined) {
    throw new StorageError("INVALID_ARGUMENT", "The delimiter must contain a character below U+10FFFF.", {
      field: "delimiter",
    });
  }
  return end;
}
