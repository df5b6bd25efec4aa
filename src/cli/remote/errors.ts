import { ERROR_CODES, type ErrorCode, type ErrorDetails, isAbortError, StorageError } from "../../errors.ts";
import { HTTP_STATUS, PROBLEM_CONTENT_TYPE } from "../../transports/http/problem.ts";

/**
 * A service's refusal as the StorageError it started from, so remote mode prints the same line and
 * exits with the same status as local mode. The problem+json body names the code; a response
 * without one (HEAD has no body, a proxy answers with HTML) falls back to its status.
 */

/** Status → code: the service's own table read backwards (the first code for a shared status wins). */
const BY_STATUS = new Map<number, ErrorCode>();
for (const [code, status] of Object.entries(HTTP_STATUS) as [ErrorCode, number][]) {
  if (!BY_STATUS.has(status)) BY_STATUS.set(status, code);
}
// Without a problem body a 502 comes from a gateway in front of the service, not from corrupt data.
BY_STATUS.set(502, "UNAVAILABLE");

export function codeForStatus(status: number): ErrorCode {
  return BY_STATUS.get(status) ?? (status >= 500 ? "INTERNAL" : "INVALID_ARGUMENT");
}

const isErrorCode = (value: unknown): value is ErrorCode =>
  typeof value === "string" && Object.hasOwn(ERROR_CODES, value);

interface ProblemBody {
  code?: unknown;
  detail?: unknown;
  details?: unknown;
  requestId?: unknown;
}

/** Only flat string/number/boolean values, as in ErrorDetails. */
function detailsOf(value: unknown): ErrorDetails {
  const out: ErrorDetails = {};
  if (typeof value !== "object" || value === null) return out;
  for (const [k, v] of Object.entries(value)) {
    if (typeof v === "string" || typeof v === "number" || typeof v === "boolean") out[k] = v;
  }
  return out;
}

/** The error for a problem document (or any body) that came with `status`. */
export function errorFromProblem(status: number, body: unknown, fallbackMessage: string): StorageError {
  const problem = (typeof body === "object" && body !== null ? body : {}) as ProblemBody;
  const code = isErrorCode(problem.code) ? problem.code : codeForStatus(status);
  const message = typeof problem.detail === "string" && problem.detail ? problem.detail : fallbackMessage;
  const details = detailsOf(problem.details);
  if (typeof problem.requestId === "string") details.requestId = problem.requestId;
  return new StorageError(code, message, details);
}

/** Reads a failed response's body (at most what a problem document needs) into a StorageError. */
export async function errorFromResponse(res: Response, what: string): Promise<StorageError> {
  const type = res.headers.get("content-type") ?? "";
  const fallback = `${what} failed: the service answered ${res.status}${res.statusText ? ` ${res.statusText}` : ""}.`;
  let body: unknown;
  if (type.startsWith(PROBLEM_CONTENT_TYPE) || type.startsWith("application/json")) {
    body = await res.json().catch(() => undefined);
  } else {
    await res.body?.cancel().catch(() => {});
  }
  return errorFromProblem(res.status, body, fallback);
}

/** fetch() itself failed: nothing answered (UNAVAILABLE), or we stopped it (CANCELLED). */
export function errorFromFetch(err: unknown, base: string): StorageError {
  if (err instanceof StorageError) return err;
  if (isAbortError(err)) {
    return new StorageError("CANCELLED", "The operation was cancelled.", {}, { cause: err });
  }
  const cause = (err as { cause?: { code?: unknown; message?: unknown } }).cause;
  const reason =
    typeof cause?.code === "string"
      ? cause.code
      : typeof cause?.message === "string"
        ? cause.message
        : err instanceof Error
          ? err.message
          : String(err);
  return new StorageError(
    "UNAVAILABLE",
    `Cannot reach the service at ${base} (${reason}). Is it running, and is the address right?`,
    {},
    { cause: err },
  );
}
