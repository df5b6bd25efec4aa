import type { FastifyReply, FastifyRequest } from "fastify";
import { redactTokens } from "../../security/index.ts";

/** What one finished request did, as the access log and the metrics see it. */
export interface RequestOutcome {
  method: string;
  /** The route template (`/v1/buckets/:bucket/objects/*`), never the raw URL. */
  route: string;
  /** The bucket the request targeted, if any (its real name; the metrics bound it, the log does not). */
  bucket: string | undefined;
  status: number;
  /** Bytes on the wire, headers included. */
  bytesIn: number;
  bytesOut: number;
  seconds: number;
}

/** The error code each failed request was answered with (sendProblem notes it). */
const problems = new WeakMap<FastifyRequest, string>();

export function noteProblem(request: FastifyRequest, code: string): void {
  problems.set(request, code);
}

/** The StorageError code a request was answered with, if it failed. */
export const problemOf = (request: FastifyRequest): string | undefined => problems.get(request);

/**
 * Query parameters whose values are credentials: presigned-URL signatures and their access key
 * ids and session tokens (X-Amz-Signature, X-Amz-Credential, X-Amz-Security-Token, Signature,
 * AWSAccessKeyId), or anything else named like a secret. Their names stay, so a log reader still
 * sees that a presigned URL was used.
 */
const SECRET_PARAM = /sig|credential|token|secret|password|auth|key/i;

/**
 * The request target for the log: the path as sent (object keys are what an operator searches
 * logs for) and the query with secret values replaced. An API key pasted into the path keeps its
 * public id only (redactTokens).
 */
export function loggableTarget(url: string): { path: string; query?: string } {
  const at = url.indexOf("?");
  const path = redactTokens(at < 0 ? url : url.slice(0, at));
  if (at < 0 || at === url.length - 1) return { path };
  const params = new URLSearchParams(url.slice(at + 1));
  for (const [name] of params) if (SECRET_PARAM.test(name)) params.set(name, "[redacted]");
  return { path, query: redactTokens(decodeURIComponent(params.toString().replace(/\+/g, "%20"))) };
}

/**
 * One line per request (Fastify's own request logs are off, see server.ts): method, route
 * template, path, bucket, status, bytes in and out, duration; the request id comes with
 * request.log. Server errors at warn, so they stand out of the stream of successes.
 */
export function logAccess(request: FastifyRequest, reply: FastifyReply, outcome: RequestOutcome): void {
  const line = {
    method: outcome.method,
    route: outcome.route,
    ...loggableTarget(request.raw.url ?? request.url),
    ...(outcome.bucket ? { bucket: outcome.bucket } : {}),
    status: outcome.status,
    ...(problems.has(request) ? { code: problems.get(request) } : {}),
    bytesIn: outcome.bytesIn,
    bytesOut: outcome.bytesOut,
    durationMs: Math.round(outcome.seconds * 1e4) / 10,
    ...(request.auth ? { caller: request.auth.principal.service } : {}),
  };
  const message = `${outcome.method} ${line.path} ${outcome.status}`;
  if (reply.statusCode >= 500) request.log.warn(line, message);
  else request.log.info(line, message);
}
