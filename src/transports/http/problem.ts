import { ERROR_CODES, type ErrorCode, type ErrorDetails, isAbortError, StorageError } from "../../errors.ts";

/**
 * The one mapping from the core's stable error codes to HTTP, and the RFC 9457
 * `application/problem+json` body every refused request gets. Routes never pick a status for an
 * error themselves: they throw StorageError and the error handler (errors.ts) calls problemFor().
 */
export const HTTP_STATUS: Readonly<Record<ErrorCode, number>> = {
  INVALID_ARGUMENT: 400,
  UNAUTHENTICATED: 401,
  PERMISSION_DENIED: 403,
  NOT_FOUND: 404,
  ALREADY_EXISTS: 409,
  PRECONDITION_FAILED: 412,
  TOO_LARGE: 413,
  UNSUPPORTED_TYPE: 415,
  RANGE_NOT_SATISFIABLE: 416,
  RATE_LIMITED: 429,
  // The client went away; nobody reads this status, but logs and metrics should not say 500.
  CANCELLED: 499,
  INTERNAL: 500,
  UNSUPPORTED_OPERATION: 501,
  // The store handed back bytes that do not match their checksum: a bad upstream, not a bad request.
  DATA_CORRUPTED: 502,
  UNAVAILABLE: 503,
  // Admission control refused new work (too many uploads or buffered bytes): retry after a pause.
  OVERLOADED: 503,
  DEADLINE_EXCEEDED: 504,
};

export const PROBLEM_CONTENT_TYPE = "application/problem+json";

/** A problem type per code: a URN, since the codes are documented in /docs rather than at a URL. */
export const problemType = (code: ErrorCode) => `urn:lumenslate-storage:problem:${code}`;

export interface Problem {
  type: string;
  title: string;
  status: number;
  detail: string;
  code: ErrorCode;
  requestId: string;
  instance: string;
  details?: ErrorDetails;
}

/** The problem body for an error; INTERNAL keeps its message out (StorageError.toPublic). */
export function problemFor(error: StorageError, requestId: string, instance: string): Problem {
  const pub = error.toPublic();
  const details = Object.fromEntries(Object.entries(pub.details).filter(([, v]) => v !== undefined));
  return {
    type: problemType(pub.code),
    title: ERROR_CODES[pub.code],
    status: HTTP_STATUS[pub.code],
    detail: pub.message,
    code: pub.code,
    requestId,
    instance,
    ...(Object.keys(details).length > 0 ? { details } : {}),
  };
}

/** Codes for the status of an error raised by Fastify or one of its plugins (they carry statusCode). */
const BY_STATUS: Record<number, ErrorCode> = {
  400: "INVALID_ARGUMENT",
  401: "UNAUTHENTICATED",
  403: "PERMISSION_DENIED",
  404: "NOT_FOUND",
  406: "UNSUPPORTED_TYPE",
  408: "DEADLINE_EXCEEDED",
  409: "ALREADY_EXISTS",
  412: "PRECONDITION_FAILED",
  413: "TOO_LARGE",
  415: "UNSUPPORTED_TYPE",
  416: "RANGE_NOT_SATISFIABLE",
  429: "RATE_LIMITED",
  499: "CANCELLED",
  501: "UNSUPPORTED_OPERATION",
  503: "UNAVAILABLE",
  504: "DEADLINE_EXCEEDED",
};

interface FrameworkError {
  statusCode?: unknown;
  code?: unknown;
  message?: unknown;
  validation?: Array<{ instancePath?: string; message?: string; params?: unknown }>;
  validationContext?: string;
}

/**
 * Anything thrown while serving a request, as a StorageError: StorageErrors unchanged, Fastify's
 * schema validation errors as INVALID_ARGUMENT naming the field, framework and plugin errors by
 * their status (their messages are generic and safe), everything else INTERNAL.
 */
export function fromRequestError(err: unknown): StorageError {
  if (err instanceof StorageError) return err;
  if (isAbortError(err))
    return new StorageError("CANCELLED", "The operation was cancelled.", {}, { cause: err });
  const e = (err ?? {}) as FrameworkError;
  if (Array.isArray(e.validation)) {
    const first = e.validation[0];
    const path = (first?.instancePath ?? "").replace(/^\//, "").replaceAll("/", ".");
    const field = [e.validationContext === "querystring" ? "" : e.validationContext, path]
      .filter(Boolean)
      .join(".");
    const message = typeof e.message === "string" ? e.message : "The request is invalid.";
    return new StorageError("INVALID_ARGUMENT", message, field ? { field } : {}, { cause: err });
  }
  const status = typeof e.statusCode === "number" ? e.statusCode : undefined;
  if (status !== undefined && status >= 400 && status < 500) {
    const code = BY_STATUS[status] ?? "INVALID_ARGUMENT";
    const message = typeof e.message === "string" && e.message ? e.message : ERROR_CODES[code];
    return new StorageError(code, message, {}, { cause: err });
  }
  if (status !== undefined && BY_STATUS[status]) {
    const code = BY_STATUS[status] as ErrorCode;
    return new StorageError(code, ERROR_CODES[code], {}, { cause: err });
  }
  const message = err instanceof Error ? err.message : String(err);
  return new StorageError("INTERNAL", message, {}, { cause: err });
}
