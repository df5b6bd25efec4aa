import {
  ServerInterceptingCall,
  type ServerInterceptingCallInterface,
  type ServerInterceptor,
  ServerListenerBuilder,
} from "@grpc/grpc-js";
import type { StorageError } from "../../../errors.ts";
import type { RateLimiter } from "../../../security/rate-limit.ts";
import { toStatus } from "../status.ts";

/** Health probes are never refused: a load balancer that is rate limited would take the server out. */
const EXEMPT_PREFIXES = ["/grpc.health.v1."];

/**
 * The subject a call is charged to: the client's IP address (no port, IPv4-mapped IPv6 as plain
 * IPv4), the same subject the HTTP server uses, so switching protocol does not double a budget.
 */
export function rateLimitSubject(call: ServerInterceptingCallInterface): string {
  const address = call.getConnectionInfo().remoteAddress ?? call.getPeer().replace(/:\d+$/, "");
  return address.startsWith("::ffff:") ? address.slice(7) : address;
}

/**
 * Charges every call to the shared RateLimiter before its handler runs; an exhausted budget ends
 * the call with RESOURCE_EXHAUSTED, `x-error-code: RATE_LIMITED` and `x-retry-after-seconds`.
 */
export function rateLimitInterceptor(
  limiter: RateLimiter,
  onInternal: (err: StorageError) => void,
): ServerInterceptor {
  return (descriptor, call) => {
    if (EXEMPT_PREFIXES.some((p) => descriptor.path.startsWith(p))) return new ServerInterceptingCall(call);
    let intercepting: ServerInterceptingCall | undefined;
    const listener = new ServerListenerBuilder()
      .withOnReceiveMetadata((metadata, next) => {
        // grpc-js holds messages and half-close until next() is called, so the handler never starts
        // on a refused call.
        limiter.consume(rateLimitSubject(call)).then(
          () => next(metadata),
          (err: unknown) => intercepting?.sendStatus(toStatus(err, onInternal)),
        );
      })
      .build();
    intercepting = new ServerInterceptingCall(call, { start: (next) => next(listener) });
    return intercepting;
  };
}
