import type { FastifyReply } from "fastify";

/**
 * Aborts when the client goes away before the response was fully written. (Fastify's
 * request.signal is not usable here: it fires as soon as the request body has been read, which for
 * an upload is before the object is committed, and for a GET is immediately.)
 */
export function disconnectSignal(reply: FastifyReply): AbortSignal {
  const controller = new AbortController();
  const res = reply.raw;
  res.once("close", () => {
    if (!res.writableFinished) controller.abort();
  });
  return controller.signal;
}
