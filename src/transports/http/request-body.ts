import { PassThrough } from "node:stream";
import type { FastifyRequest } from "fastify";
import { StorageError } from "../../errors.ts";

/** How much of a request body may wait between the socket and the store. */
const STREAM_BUFFER = 1024 * 1024;

/**
 * A streamed request body to hand to the core or a store. It is a pass-through, so a refused
 * upload that destroys its input does not destroy the socket, which still has to carry the error
 * response. pipe() does not pass on a connection lost mid-body, so that fails the body with
 * CANCELLED here, and nothing partial is committed.
 */
export function uploadBody(request: FastifyRequest): PassThrough {
  const body = new PassThrough({ highWaterMark: STREAM_BUFFER });
  const raw = request.raw;
  raw.pipe(body);
  raw.once("close", () => {
    if (!raw.complete)
      body.destroy(new StorageError("CANCELLED", "The connection closed before the body was complete."));
  });
  return body;
}
