import type { ErrorDetails } from "../../errors.ts";
import { asStorageError, isAbortError, StorageError } from "../../errors.ts";

// Disk full, quota, I/O failure, read-only remount, descriptor exhaustion: operational, retry later.
const UNAVAILABLE_CODES = new Set(["ENOSPC", "EDQUOT", "EIO", "EROFS", "EMFILE", "ENFILE"]);

export const fsCode = (err: unknown): string | undefined =>
  err instanceof Error ? (err as NodeJS.ErrnoException).code : undefined;

/** ENOENT/ENOTDIR: the thing (or a parent directory) is not there. */
export const isMissing = (err: unknown): boolean => {
  const code = fsCode(err);
  return code === "ENOENT" || code === "ENOTDIR";
};

/** Maps anything thrown while touching the disk to a StorageError; StorageErrors pass through. */
export function fromFsError(err: unknown, details: ErrorDetails = {}): StorageError {
  if (err instanceof StorageError) return err;
  if (isAbortError(err))
    return new StorageError("CANCELLED", "The operation was cancelled.", details, { cause: err });
  const code = fsCode(err);
  if (code && UNAVAILABLE_CODES.has(code)) {
    // The fs message carries paths; keep it in `cause` only.
    return new StorageError(
      "UNAVAILABLE",
      `The local storage volume failed (${code}); retry later.`,
      details,
      { cause: err },
    );
  }
  return asStorageError(err, "INTERNAL");
}

export const notFound = (bucket: string, key?: string): StorageError =>
  key === undefined
    ? new StorageError("NOT_FOUND", "No such bucket.", { bucket })
    : new StorageError("NOT_FOUND", "No such object.", { bucket, key });
