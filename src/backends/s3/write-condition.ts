import type { StorageError } from "../../errors.ts";
import { preconditionFailed, type WriteCondition } from "../write-condition.ts";

/** The S3 request fields for a conditional write (If-Match quoted, as S3 compares it). */
export function conditionParams(condition: WriteCondition | undefined): {
  IfNoneMatch?: string;
  IfMatch?: string;
} {
  if (!condition) return {};
  if ("ifNoneMatch" in condition) return { IfNoneMatch: "*" };
  const tag = condition.ifMatch;
  return { IfMatch: /^".*"$/.test(tag) ? tag : `"${tag}"` };
}

/**
 * A conditional write the store refused, or undefined for any other failure: 412 PreconditionFailed
 * (MinIO, S3); 409 ConditionalRequestConflict (S3, when a concurrent write to the key won the race:
 * evaluated again now, the condition would fail too); NoSuchKey for If-Match on a missing key (S3
 * answers that with 404; a missing bucket stays NoSuchBucket and NOT_FOUND).
 */
export function conditionFailure(
  err: unknown,
  condition: WriteCondition | undefined,
  context: { bucket: string; key: string },
): StorageError | undefined {
  if (!condition) return undefined;
  const e = (err ?? {}) as { name?: string; Code?: string; $metadata?: { httpStatusCode?: number } };
  const name = e.name ?? e.Code;
  const refused =
    name === "PreconditionFailed" ||
    name === "ConditionalRequestConflict" ||
    (name === "NoSuchKey" && "ifMatch" in condition) ||
    e.$metadata?.httpStatusCode === 412;
  return refused ? preconditionFailed(condition, context, err) : undefined;
}
