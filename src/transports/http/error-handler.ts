import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { StorageError } from "../../errors.ts";
import { noteProblem } from "./access-log.ts";
import { lingerAfterResponse } from "./linger.ts";
import { fromRequestError, HTTP_STATUS, PROBLEM_CONTENT_TYPE, problemFor } from "./problem.ts";
import { REQUEST_ID_HEADER } from "./request-id.ts";

/** Headers that survive into an error response; anything a route set for a success is dropped. */
const KEEP = new Set(["x-request-id", "connection"]);

/**
 * Sends the RFC 9457 problem for an error. When the request body was not read to the end (a refused
 * upload), the response says `Connection: close` and the connection is closed after it (lingering,
 * see linger.ts), so a client still streaming gets its answer now, not after sending everything.
 */
export function sendProblem(request: FastifyRequest, reply: FastifyReply, err: unknown): FastifyReply {
  const error = fromRequestError(err);
  const status = HTTP_STATUS[error.code];
  if (request.auth) request.auth.failure = error.code;
  noteProblem(request, error.code);
  if (error.code === "INTERNAL" || error.code === "DATA_CORRUPTED")
    request.log.error({ err }, "request failed");
  else if (status >= 500) request.log.warn({ code: error.code, detail: error.message }, "request failed");
  // The access line (access-log.ts) carries the code at info; the detail is for debugging.
  else request.log.debug({ code: error.code, detail: error.message }, "request refused");
  for (const name of Object.keys(reply.getHeaders())) {
    if (!KEEP.has(name)) reply.removeHeader(name);
  }
  if (!request.raw.complete) {
    reply.header("connection", "close");
    lingerAfterResponse(request.raw);
  }
  // RFC 6750: a refused credential names the scheme the caller should use.
  if (error.code === "UNAUTHENTICATED") reply.header("www-authenticate", 'Bearer realm="lumenslate-storage"');
  const retryAfter = error.details.retryAfterSeconds;
  if ((error.code === "RATE_LIMITED" || error.code === "OVERLOADED") && typeof retryAfter === "number") {
    reply.header("retry-after", String(retryAfter));
  }
  const size = error.details.size;
  if (error.code === "RANGE_NOT_SATISFIABLE" && typeof size === "number") {
    reply.header("content-range", `bytes */${size}`);
  }
  const instance = request.url.split("?")[0] ?? "/";
  const body = problemFor(error, String(request.id), instance);
  // A pre-serialised string: no response schema gets in the way of the problem body.
  return reply.code(status).type(PROBLEM_CONTENT_TYPE).send(JSON.stringify(body));
}

/** Router errors by Fastify code: the framework's own messages echo the raw path back. */
const ROUTER_ERRORS: Record<string, (cause: unknown) => StorageError> = {
  FST_ERR_BAD_URL: (cause) =>
    new StorageError(
      "INVALID_ARGUMENT",
      "The URL path is not valid percent-encoded UTF-8: every '%' must start a %XX escape, and the " +
        "escaped bytes must be UTF-8 (no lone surrogates, no over-long forms). Encode keys with " +
        "encodeURIComponent.",
      { field: "path" },
      { cause },
    ),
  FST_ERR_MAX_PARAM_LENGTH: (cause) =>
    new StorageError(
      "INVALID_ARGUMENT",
      "A part of the URL path is too long; object keys are limited to 1024 bytes of UTF-8.",
      { field: "path" },
      { cause },
    ),
};

/**
 * For Fastify's `frameworkErrors` factory option: errors the router raises before any hook runs
 * (a path that does not decode, a parameter over maxParamLength). Without it Fastify answers them
 * with JSON of its own instead of a problem. No onRequest hook has run, so the request id header is
 * set here.
 */
export function frameworkErrorHandler(
  error: FastifyError,
  request: FastifyRequest,
  reply: FastifyReply,
): FastifyReply {
  reply.header(REQUEST_ID_HEADER, request.id);
  const known = ROUTER_ERRORS[error.code];
  return sendProblem(request, reply, known ? known(error) : error);
}

export function registerErrorHandling(fastify: FastifyInstance): void {
  fastify.setErrorHandler((err, request, reply) => sendProblem(request, reply, err));
  fastify.setNotFoundHandler((request, reply) =>
    sendProblem(
      request,
      reply,
      new StorageError("NOT_FOUND", `No route for ${request.method} ${request.url.split("?")[0]}.`),
    ),
  );
}
