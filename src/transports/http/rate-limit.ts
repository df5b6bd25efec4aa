import type { FastifyInstance } from "fastify";
import type { RateLimiter } from "../../security/rate-limit.ts";

/**
 * The limiter subject for a client address: the bare IP, IPv4-mapped IPv6 unwrapped. The gRPC
 * server charges the same subject, so one caller has one budget whichever protocol it uses.
 */
export const rateLimitSubject = (address: string) =>
  address.startsWith("::ffff:") ? address.slice(7) : address;

/**
 * The shared limiter in front of every /v1 route (probes, metrics and docs are never limited).
 * Runs in onRequest, before any body is read, so a refused upload costs nothing. The subject is the
 * socket's peer address: X-Forwarded-For is not trusted (no proxy is configured to vouch for it).
 */
export function registerRateLimit(fastify: FastifyInstance, limiter: RateLimiter): void {
  fastify.addHook("onRequest", async (request) => {
    if (!request.url.startsWith("/v1/")) return;
    await limiter.consume(rateLimitSubject(request.ip));
  });
}
