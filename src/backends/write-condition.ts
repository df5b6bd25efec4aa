import { StorageError } from "../errors.ts";

/**
 * A conditional write, as S3's PutObject/CompleteMultipartUpload take it: `ifNoneMatch: "*"` stores
 * only when the key has no current object (create-if-absent); `ifMatch` only when the current
 * object's ETag is this quoted tag (compare-and-swap). The backend evaluates it at the moment the
 * object becomes visible, so two writers cannot both pass; a failed condition stores nothing.
 */
export type WriteCondition = { ifNoneMatch: "*" } | { ifMatch: string };

/** ETags compare without quotes: S3 hands them out quoted, some clients send them bare. */
const bare = (etag: string) => etag.replace(/^"(.*)"$/, "$1");

/**
 * The PRECONDITION_FAILED a refused condition gets. It says which condition failed, never the
 * current ETag (a caller allowed to write may not be allowed to read). S3 answers a bare 412, so
 * If-Match does not tell "missing" from "changed" here either.
 */
export function preconditionFailed(
  condition: WriteCondition,
  context: { bucket: string; key: string },
  cause?: unknown,
): StorageError {
  const options = cause === undefined ? undefined : { cause };
  if ("ifNoneMatch" in condition) {
    return new StorageError(
      "PRECONDITION_FAILED",
      "The object already exists (If-None-Match: *).",
      { ...context, condition: "if-none-match" },
      options,
    );
  }
  return new StorageError(
    "PRECONDITION_FAILED",
    "The object does not exist or its current ETag is not the one in If-Match.",
    { ...context, condition: "if-match" },
    options,
  );
}

/** Whether the condition holds against the current object's ETag (undefined: there is none). */
export function conditionHolds(condition: WriteCondition, currentEtag: string | undefined): boolean {
  if ("ifNoneMatch" in condition) return currentEtag === undefined;
  return currentEtag !== undefined && bare(currentEtag) === bare(condition.ifMatch);
}
