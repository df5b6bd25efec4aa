import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { StorageError } from "../../errors.ts";
import { lingerAfterResponse } from "./linger.ts";
import { HTTP_STATUS, PROBLEM_CONTENT_TYPE, problemFor, toStorageError } from "./problem.ts";

/** Headers that survive into an error response; anything a route set for a success is dropped. */
const KEEP = new Set(["x-request-id", "connection"]);

/**
 * Sends the RFC 9457 problem for an error. When the request body was not read to the end (a refused
 * upload), the response says `Connection: close` and the connection is closed after it (lingering,
 * see linger.ts), so a client still streaming gets its answer now, not after sending everything.
 */
export function sendProblem(request: FastifyRequest, reply: FastifyReply, err: unknown): FastifyReply {
  const error = toStorageError(err);
  const status = HTTP_STATUS[error.code];
  if (request.auth) request.auth.failure = error.code;
  if (error.code === "INTERNAL" || error.code === "DATA_CORRUPTED")
    request.log.error({ err }, "request failed");
  else if (status >= 500) request.log.warn({ code: error.code, detail: error.message }, "request failed");
  else request.log.info({ code: error.code, detail: error.message }, "request refused");
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
  if (error.code === "RATE_LIMITED" && typeof retryAfter === "number") {
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
