import { type ErrorCode, isAbortError, StorageError } from "../../errors.ts";

interface SdkError {
  name?: string;
  Code?: string;
  code?: string;
  message?: string;
  $metadata?: { httpStatusCode?: number };
  $fault?: "client" | "server";
}

const BY_NAME: Record<string, ErrorCode> = {
  NoSuchKey: "NOT_FOUND",
  NotFound: "NOT_FOUND",
  NoSuchBucket: "NOT_FOUND",
  NoSuchVersion: "NOT_FOUND",
  NoSuchUpload: "NOT_FOUND",
  BucketAlreadyOwnedByYou: "ALREADY_EXISTS",
  BucketAlreadyExists: "ALREADY_EXISTS",
  PreconditionFailed: "PRECONDITION_FAILED",
  InvalidRange: "RANGE_NOT_SATISFIABLE",
  AccessDenied: "PERMISSION_DENIED",
  InvalidAccessKeyId: "PERMISSION_DENIED",
  SignatureDoesNotMatch: "PERMISSION_DENIED",
  EntityTooLarge: "TOO_LARGE",
  SlowDown: "UNAVAILABLE",
  ServiceUnavailable: "UNAVAILABLE",
  XMinioServerNotInitialized: "UNAVAILABLE",
  XMinioStorageFull: "UNAVAILABLE",
  RequestTimeout: "DEADLINE_EXCEEDED",
  TimeoutError: "UNAVAILABLE",
};

const NETWORK_CODES = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "EPIPE",
  "ETIMEDOUT",
  "EHOSTUNREACH",
  "ENOTFOUND",
  "EAI_AGAIN",
  "ECONNABORTED",
  "UND_ERR_SOCKET",
]);

const BY_STATUS: Record<number, ErrorCode> = {
  403: "PERMISSION_DENIED",
  404: "NOT_FOUND",
  412: "PRECONDITION_FAILED",
  416: "RANGE_NOT_SATISFIABLE",
  503: "UNAVAILABLE",
};

const MESSAGES: Partial<Record<ErrorCode, string>> = {
  NOT_FOUND: "No such object, version or bucket.",
  UNAVAILABLE: "The object store could not be reached; retry later.",
  PERMISSION_DENIED: "The object store refused the service's credentials for this operation.",
  PRECONDITION_FAILED: "The object store refused the request: a precondition did not hold.",
  RANGE_NOT_SATISFIABLE: "The requested range is outside the object.",
};

function networkCode(err: unknown): string | undefined {
  let current: unknown = err;
  for (let depth = 0; current && depth < 5; depth++) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === "string" && NETWORK_CODES.has(code)) return code;
    if (
      current instanceof Error &&
      /socket hang up|ECONNREFUSED|ECONNRESET|other side closed/.test(current.message)
    )
      return "ECONNRESET";
    current = (current as { cause?: unknown }).cause;
  }
  return undefined;
}

/** Translates an AWS SDK (or socket) error into a StorageError with a stable code. */
export function fromS3Error(
  err: unknown,
  context: { bucket?: string; key?: string; versionId?: string },
): StorageError {
  if (err instanceof StorageError) return err;
  if (isAbortError(err))
    return new StorageError("CANCELLED", "The operation was cancelled.", context, { cause: err });
  const e = (err ?? {}) as SdkError;
  const net = networkCode(err);
  const code: ErrorCode =
    (e.name && BY_NAME[e.name]) ||
    (e.Code && BY_NAME[e.Code]) ||
    (net ? "UNAVAILABLE" : undefined) ||
    BY_STATUS[e.$metadata?.httpStatusCode ?? 0] ||
    (e.$metadata?.httpStatusCode && e.$metadata.httpStatusCode >= 500 ? "UNAVAILABLE" : "INTERNAL");
  const message = MESSAGES[code] ?? `Object store error: ${e.name ?? "unknown"}`;
  return new StorageError(code, message, { ...context }, { cause: err });
}
