import { StorageError } from "../errors.ts";

/** Escapes LIKE wildcards so a key prefix matches literally (used with `escape '\'`). */
export const likePrefix = (prefix: string): string => `${prefix.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;

/** Cursors are opaque to callers: the last entry of the previous page, base64url-encoded. */
export const encodeCursor = (lastEntry: string): string =>
  Buffer.from(lastEntry, "utf8").toString("base64url");

export function decodeCursor(cursor: string): string {
  if (!/^[A-Za-z0-9_-]{1,2000}$/.test(cursor)) {
    throw new StorageError(
      "INVALID_ARGUMENT",
      "The list cursor is not valid; pass the nextCursor of a previous page.",
      {
        field: "cursor",
      },
    );
  }
  return Buffer.from(cursor, "base64url").toString("utf8");
}
