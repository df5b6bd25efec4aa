import { Metadata, status } from "@grpc/grpc-js";
import {
  ERROR_CODE_KEY,
  ERROR_CODES,
  ERROR_DETAILS_KEY,
  type ErrorCode,
  REQUEST_ID_KEY,
  RETRY_AFTER_KEY,
} from "./generated/protocol.ts";

export { ERROR_CODES, type ErrorCode };

interface ErrorExtra {
  grpcCode: status;
  details?: Record<string, unknown>;
  retryAfterSeconds?: number | undefined;
  requestId?: string | undefined;
  cause?: unknown;
}

/**
 * What a call failed with. `code` is the service's stable error code (from the `x-error-code`
 * trailer; derived from the gRPC status when the failure came from the transport, such as a
 * deadline or an unreachable server); `grpcCode` the gRPC status code. Every error is an instance
 * of the subclass for its code (NotFoundError, PermissionDeniedError, ...), so callers can branch
 * with `instanceof` or on `code`.
 */
export class StorageClientError<C extends ErrorCode = ErrorCode> extends Error {
  readonly code: C;
  readonly grpcCode: status;
  readonly details: Record<string, unknown>;
  readonly retryAfterSeconds: number | undefined;
  readonly requestId: string | undefined;

  constructor(code: C, message: string, extra: ErrorExtra) {
    super(message, { cause: extra.cause });
    this.name = new.target.name;
    this.code = code;
    this.grpcCode = extra.grpcCode;
    this.details = extra.details ?? {};
    this.retryAfterSeconds = extra.retryAfterSeconds;
    this.requestId = extra.requestId;
  }

  /** Worth retrying the same call later (after `retryAfterSeconds`, when given). */
  get retryable(): boolean {
    return RETRYABLE_CODES.includes(this.code);
  }
}

/** The codes that say "try later" (the client's RetryPolicy retries these by default). */
export const RETRYABLE_CODES: readonly ErrorCode[] = Object.freeze([
  "UNAVAILABLE",
  "RATE_LIMITED",
  "OVERLOADED",
]);

/** One subclass per code, for `instanceof` (the `name` is the class name). */
export class InvalidArgumentError extends StorageClientError<"INVALID_ARGUMENT"> {}
export class NotFoundError extends StorageClientError<"NOT_FOUND"> {}
export class AlreadyExistsError extends StorageClientError<"ALREADY_EXISTS"> {}
export class PreconditionFailedError extends StorageClientError<"PRECONDITION_FAILED"> {}
export class TooLargeError extends StorageClientError<"TOO_LARGE"> {}
export class UnsupportedTypeError extends StorageClientError<"UNSUPPORTED_TYPE"> {}
export class RangeNotSatisfiableError extends StorageClientError<"RANGE_NOT_SATISFIABLE"> {}
export class PermissionDeniedError extends StorageClientError<"PERMISSION_DENIED"> {}
export class UnauthenticatedError extends StorageClientError<"UNAUTHENTICATED"> {}
export class RateLimitedError extends StorageClientError<"RATE_LIMITED"> {}
export class OverloadedError extends StorageClientError<"OVERLOADED"> {}
export class UnavailableError extends StorageClientError<"UNAVAILABLE"> {}
export class DeadlineExceededError extends StorageClientError<"DEADLINE_EXCEEDED"> {}
export class CancelledError extends StorageClientError<"CANCELLED"> {}
export class DataCorruptedError extends StorageClientError<"DATA_CORRUPTED"> {}
export class UnsupportedOperationError extends StorageClientError<"UNSUPPORTED_OPERATION"> {}
export class InternalError extends StorageClientError<"INTERNAL"> {}

/** One class per code of the service's registry: a code added there fails to compile here. */
const CLASSES: {
  readonly [C in ErrorCode]: new (
    code: C,
    message: string,
    extra: ErrorExtra,
  ) => StorageClientError<C>;
} = {
  INVALID_ARGUMENT: InvalidArgumentError,
  NOT_FOUND: NotFoundError,
  ALREADY_EXISTS: AlreadyExistsError,
  PRECONDITION_FAILED: PreconditionFailedError,
  TOO_LARGE: TooLargeError,
  UNSUPPORTED_TYPE: UnsupportedTypeError,
  RANGE_NOT_SATISFIABLE: RangeNotSatisfiableError,
  PERMISSION_DENIED: PermissionDeniedError,
  UNAUTHENTICATED: UnauthenticatedError,
  RATE_LIMITED: RateLimitedError,
  OVERLOADED: OverloadedError,
  UNAVAILABLE: UnavailableError,
  DEADLINE_EXCEEDED: DeadlineExceededError,
  CANCELLED: CancelledError,
  DATA_CORRUPTED: DataCorruptedError,
  UNSUPPORTED_OPERATION: UnsupportedOperationError,
  INTERNAL: InternalError,
};

/** The error for `code`, as an instance of that code's class. */
export function clientError(code: ErrorCode, message: string, extra: ErrorExtra): StorageClientError {
  const Class = CLASSES[code] as new (
    code: ErrorCode,
    message: string,
    extra: ErrorExtra,
  ) => StorageClientError;
  return new Class(code, message, extra);
}

/** Stable codes for statuses that arrive without one (set by grpc-js or a proxy, not by the service). */
const FROM_STATUS: Partial<Record<status, ErrorCode>> = {
  [status.CANCELLED]: "CANCELLED",
  [status.INVALID_ARGUMENT]: "INVALID_ARGUMENT",
  [status.DEADLINE_EXCEEDED]: "DEADLINE_EXCEEDED",
  [status.NOT_FOUND]: "NOT_FOUND",
  [status.ALREADY_EXISTS]: "ALREADY_EXISTS",
  [status.PERMISSION_DENIED]: "PERMISSION_DENIED",
  // grpc-js's own RESOURCE_EXHAUSTED is a message over the size limit.
  [status.RESOURCE_EXHAUSTED]: "TOO_LARGE",
  [status.FAILED_PRECONDITION]: "PRECONDITION_FAILED",
  [status.OUT_OF_RANGE]: "RANGE_NOT_SATISFIABLE",
  [status.UNIMPLEMENTED]: "UNSUPPORTED_OPERATION",
  [status.UNAVAILABLE]: "UNAVAILABLE",
  [status.DATA_LOSS]: "DATA_CORRUPTED",
  [status.UNAUTHENTICATED]: "UNAUTHENTICATED",
};

const isErrorCode = (value: unknown): value is ErrorCode => typeof value === "string" && value in ERROR_CODES;

const first = (metadata: Metadata | undefined, key: string): string | undefined => {
  const value = metadata?.get(key)[0];
  return typeof value === "string" ? value : undefined;
};

function parseDetails(raw: string | undefined): Record<string, unknown> {
  if (!raw) return {};
  try {
    const parsed: unknown = JSON.parse(raw);
    return parsed && typeof parsed === "object" ? (parsed as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}

/**
 * Any error from a grpc-js call (a ServiceError) → StorageClientError; others pass through wrapped
 * as INTERNAL. `sentRequestId`, the id the call sent, stands in when the trailers carry none (a
 * stream that fails after its first message had the id in its leading metadata).
 */
export function toClientError(err: unknown, sentRequestId?: string): StorageClientError {
  if (err instanceof StorageClientError) return err;
  const e = err as { code?: unknown; details?: unknown; metadata?: unknown; message?: unknown };
  if (typeof e?.code !== "number") {
    const message = err instanceof Error ? err.message : String(err);
    return clientError("INTERNAL", message, { grpcCode: status.INTERNAL, cause: err });
  }
  const grpcCode = e.code as status;
  const metadata = e.metadata instanceof Metadata ? e.metadata : undefined;
  const given = first(metadata, ERROR_CODE_KEY);
  const code = isErrorCode(given) ? given : (FROM_STATUS[grpcCode] ?? "INTERNAL");
  const retry = Number(first(metadata, RETRY_AFTER_KEY));
  const message = typeof e.details === "string" && e.details ? e.details : ERROR_CODES[code];
  return clientError(code, message, {
    grpcCode,
    details: parseDetails(first(metadata, ERROR_DETAILS_KEY)),
    retryAfterSeconds: Number.isFinite(retry) && retry > 0 ? retry : undefined,
    requestId: first(metadata, REQUEST_ID_KEY) ?? sentRequestId,
    cause: err,
  });
}
