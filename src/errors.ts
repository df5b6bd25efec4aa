/**
 * One error type for the whole service. Every failure a caller can see carries a stable `code`
 * from the registry below; transports map the code once (HTTP status, gRPC status) and never
 * inspect messages. `cause` is for logs only and is never sent to a caller.
 */
export const ERROR_CODES = {
  INVALID_ARGUMENT: "The request is malformed or a value is out of range.",
  NOT_FOUND: "The bucket, object or version does not exist.",
  ALREADY_EXISTS: "The target already exists.",
  PRECONDITION_FAILED: "A condition on the request (checksum, size, etag) did not hold.",
  TOO_LARGE: "The object is larger than the configured limit.",
  UNSUPPORTED_TYPE: "The file type is not allowed, or the content does not match its extension.",
  RANGE_NOT_SATISFIABLE: "The requested byte range lies outside the object.",
  PERMISSION_DENIED: "The caller may not do this.",
  UNAUTHENTICATED: "No valid credentials were presented.",
  RATE_LIMITED: "Too many requests; retry later.",
  OVERLOADED: "The service is at its limit of concurrent work; retry later.",
  UNAVAILABLE: "A backend (object store or database) could not be reached; retry later.",
  DEADLINE_EXCEEDED: "The operation did not finish in time.",
  CANCELLED: "The caller cancelled the operation.",
  DATA_CORRUPTED: "Stored bytes do not match their recorded checksum.",
  UNSUPPORTED_OPERATION: "This backend cannot do that.",
  INTERNAL: "An unexpected error; details are in the service log.",
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;

export interface ErrorDetails {
  bucket?: string;
  key?: string;
  versionId?: string;
  field?: string;
  limit?: number;
  [name: string]: string | number | boolean | undefined;
}

export class StorageError extends Error {
  readonly code: ErrorCode;
  readonly details: ErrorDetails;

  constructor(code: ErrorCode, message: string, details: ErrorDetails = {}, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "StorageError";
    this.code = code;
    this.details = details;
  }

  /** What may be shown to a caller: INTERNAL hides the message, which may carry internals. */
  toPublic(): { code: ErrorCode; message: string; details: ErrorDetails } {
    if (this.code === "INTERNAL") return { code: this.code, message: ERROR_CODES.INTERNAL, details: {} };
    return { code: this.code, message: this.message, details: this.details };
  }
}

export const isStorageError = (err: unknown): err is StorageError => err instanceof StorageError;

/** Wraps anything thrown by a library into a StorageError, keeping StorageErrors as they are. */
export function asStorageError(err: unknown, fallback: ErrorCode = "INTERNAL"): StorageError {
  if (err instanceof StorageError) return err;
  if (isAbortError(err))
    return new StorageError("CANCELLED", "The operation was cancelled.", {}, { cause: err });
  return new StorageError(fallback, err instanceof Error ? err.message : String(err), {}, { cause: err });
}

export function isAbortError(err: unknown): boolean {
  return (
    err instanceof Error && (err.name === "AbortError" || (err as { code?: string }).code === "ABORT_ERR")
  );
}
