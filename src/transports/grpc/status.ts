import { Metadata, type StatusObject, status } from "@grpc/grpc-js";
import { asStorageError, type ErrorCode, type StorageError } from "../../errors.ts";

/**
 * The one mapping from the core's stable error codes to gRPC status codes, and the trailing
 * metadata every error carries. Handlers never pick a status themselves: they throw (or reject
 * with) StorageError and call toStatus().
 */
export const GRPC_STATUS: Readonly<Record<ErrorCode, status>> = {
  INVALID_ARGUMENT: status.INVALID_ARGUMENT,
  NOT_FOUND: status.NOT_FOUND,
  ALREADY_EXISTS: status.ALREADY_EXISTS,
  // A condition the caller set (size, sha256, etag) did not hold: the request is fine, the state is not.
  PRECONDITION_FAILED: status.FAILED_PRECONDITION,
  // gRPC has no "payload too large": RESOURCE_EXHAUSTED is what it uses for size limits, too.
  TOO_LARGE: status.RESOURCE_EXHAUSTED,
  // The name or the bytes themselves are refused, whatever the server's state: retrying the same
  // request can never succeed, which is INVALID_ARGUMENT rather than FAILED_PRECONDITION.
  UNSUPPORTED_TYPE: status.INVALID_ARGUMENT,
  RANGE_NOT_SATISFIABLE: status.OUT_OF_RANGE,
  PERMISSION_DENIED: status.PERMISSION_DENIED,
  UNAUTHENTICATED: status.UNAUTHENTICATED,
  RATE_LIMITED: status.RESOURCE_EXHAUSTED,
  OVERLOADED: status.RESOURCE_EXHAUSTED,
  UNAVAILABLE: status.UNAVAILABLE,
  DEADLINE_EXCEEDED: status.DEADLINE_EXCEEDED,
  CANCELLED: status.CANCELLED,
  DATA_CORRUPTED: status.DATA_LOSS,
  UNSUPPORTED_OPERATION: status.UNIMPLEMENTED,
  INTERNAL: status.INTERNAL,
};

/** Trailing metadata keys. The stable code is what clients should branch on; status codes are coarser. */
export const ERROR_CODE_KEY = "x-error-code";
/** The public details of the error (field, limit, bucket, ...) as JSON. */
export const ERROR_DETAILS_KEY = "x-error-details";
/** Whole seconds to wait before retrying, on RATE_LIMITED. */
export const RETRY_AFTER_KEY = "x-retry-after-seconds";
/** Request id, echoed in response headers (or trailers when the call fails before any header). */
export const REQUEST_ID_KEY = "x-request-id";

/** Name of a status code, for logs and metrics ("NOT_FOUND"). */
export const statusName = (code: status): string => status[code] ?? String(code);

/** JSON with everything outside printable ASCII escaped: text metadata values allow nothing else. */
const asciiJson = (value: unknown): string =>
  JSON.stringify(value).replace(
    /[^\x20-\x7e]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`,
  );

/**
 * The gRPC status for any error: StorageErrors keep their code and message; anything else is a bug
 * and becomes INTERNAL, whose message (and cause) only `onInternal` sees: it is logged, never sent.
 */
export function toStatus(err: unknown, onInternal: (err: StorageError) => void): StatusObject {
  const error = asStorageError(err);
  if (error.code === "INTERNAL") onInternal(error);
  const pub = error.toPublic();
  const metadata = new Metadata();
  metadata.set(ERROR_CODE_KEY, pub.code);
  const details = Object.fromEntries(Object.entries(pub.details).filter(([, v]) => v !== undefined));
  if (Object.keys(details).length > 0) metadata.set(ERROR_DETAILS_KEY, asciiJson(details));
  if (typeof pub.details.retryAfterSeconds === "number") {
    metadata.set(RETRY_AFTER_KEY, String(pub.details.retryAfterSeconds));
  }
  return { code: GRPC_STATUS[pub.code], details: pub.message, metadata };
}
