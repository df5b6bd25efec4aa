import { Metadata, status } from "@grpc/grpc-js";
import { ERROR_CODES, type ErrorCode } from "../errors.ts";
import {
  ERROR_CODE_KEY,
  ERROR_DETAILS_KEY,
  REQUEST_ID_KEY,
  RETRY_AFTER_KEY,
} from "../transports/grpc/status.ts";

/**
 * What a call failed with. `code` is the service's stable error code (from the `x-error-code`
 * trailer; derived from the gRPC status when the failure came from the transport, such as a
 * deadline or an unreachable server); `grpcCode` the gRPC status code.
 */
export class StorageClientError extends Error {
  readonly code: ErrorCode;
  readonly grpcCode: status;
  readonly details: Record<string, unknown>;
  readonly retryAfterSeconds: number | undefined;
  readonly requestId: string | undefined;

  constructor(
    code: ErrorCode,
    message: string,
    extra: {
      grpcCode: status;
      details?: Record<string, unknown>;
      retryAfterSeconds?: number | undefined;
      requestId?: string | undefined;
      cause?: unknown;
    },
  ) {
    super(message, { cause: extra.cause });
    this.name = "StorageClientError";
    this.code = code;
    this.grpcCode = extra.grpcCode;
    this.details = extra.details ?? {};
    this.retryAfterSeconds = extra.retryAfterSeconds;
    this.requestId = extra.requestId;
  }
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

/** Any error from a grpc-js call (a ServiceError) → StorageClientError; others pass through wrapped as INTERNAL. */
export function toClientError(err: unknown): StorageClientError {
  if (err instanceof StorageClientError) return err;
  const e = err as { code?: unknown; details?: unknown; metadata?: unknown; message?: unknown };
  if (typeof e?.code !== "number") {
    const message = err instanceof Error ? err.message : String(err);
    return new StorageClientError("INTERNAL", message, { grpcCode: status.INTERNAL, cause: err });
  }
  const grpcCode = e.code as status;
  const metadata = e.metadata instanceof Metadata ? e.metadata : undefined;
  const given = first(metadata, ERROR_CODE_KEY);
  const code = isErrorCode(given) ? given : (FROM_STATUS[grpcCode] ?? "INTERNAL");
  const retry = Number(first(metadata, RETRY_AFTER_KEY));
  const message = typeof e.details === "string" && e.details ? e.details : ERROR_CODES[code];
  return new StorageClientError(code, message, {
    grpcCode,
    details: parseDetails(first(metadata, ERROR_DETAILS_KEY)),
    retryAfterSeconds: Number.isFinite(retry) && retry > 0 ? retry : undefined,
    requestId: first(metadata, REQUEST_ID_KEY),
    cause: err,
  });
}
