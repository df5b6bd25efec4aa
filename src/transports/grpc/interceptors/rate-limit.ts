import {
  ServerInterceptingCall,
  type ServerInterceptingCallInterface,
  type ServerInterceptor,
  ServerListenerBuilder,
} from "@grpc/grpc-js";
import type { StorageError } from "../../../errors.ts";
import type { RateLimiter } from "../../../security/rate-limit.ts";
import { STORAGE_SERVICE_NAME } from "../definition.ts";
import { toStatus } from "../status.ts";

/**
 * Health probes are never refused: a load balancer that is rate limited would take the server out.
 * StorageService calls are charged by the auth interceptor, per API key once the caller is known.
 */
const EXEMPT_PREFIXES = ["/grpc.health.v1.", `/${STORAGE_SERVICE_NAME}/`];

/** An IP address with IPv4-mapped IPv6 unwrapped (`::ffff:1.2.3.4` → `1.2.3.4`). */
const plainAddress = (address: string) => (address.startsWith("::ffff:") ? address.slice(7) : address);

/** A peer as grpc-js's handler calls print it ("1.2.3.4:5678", "::1:5678") → the bare IP. */
export const addressFromPeer = (peer: string): string => plainAddress(peer.replace(/:\d+$/, ""));

/**
 * The client address a call is charged to (and audited with): the same subject the HTTP server
 * uses, so switching protocol does not double a budget.
 */
export function rateLimitSubject(call: ServerInterceptingCallInterface): string {
  const address = call.getConnectionInfo().remoteAddress;
  return address ? plainAddress(address) : addressFromPeer(call.getPeer());
}

/**
 * Charges every call outside StorageService (reflection) to the shared RateLimiter by client
 * address before its handler runs; an exhausted budget ends the call with RESOURCE_EXHAUSTED,
 * `x-error-code: RATE_LIMITED` and `x-retry-after-seconds`.
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
