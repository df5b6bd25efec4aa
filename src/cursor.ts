import { StorageError } from "./errors.ts";

/**
 * The one list cursor codec, for every listing that pages by "the last entry of the previous page"
 * (the metadata index, the local backend). Cursors are opaque to callers: base64url of that entry.
 * Decoding is strict (canonical base64url only, bounded length), so a hand-made or truncated cursor
 * is INVALID_ARGUMENT rather than a silently different position.
 */

const MAX_CURSOR_CHARS = 2000;

export const encodeCursor = (lastEntry: string): string =>
  Buffer.from(lastEntry, "utf8").toString("base64url");

export function decodeCursor(cursor: string): string {
  const entry = Buffer.from(cursor, "base64url").toString("utf8");
  if (cursor.length === 0 || cursor.length > MAX_CURSOR_CHARS || encodeCursor(entry) !== cursor) {
    throw new StorageError(
      "INVALID_ARGUMENT",
      "The list cursor is not valid; pass the nextCursor of a previous page.",
      {
        field: "cursor",
      },
    );
  }
  return entry;
}
