import { ServerInterceptingCall, type ServerInterceptor, ServerListenerBuilder } from "@grpc/grpc-js";
import { isStorageError, type StorageError } from "../../../errors.ts";
import type { Principal, Security } from "../../../security/index.ts";
import type { RateLimiter } from "../../../security/rate-limit.ts";
import { bearerToken, parseToken } from "../../../security/tokens.ts";
import { AUTHORIZATION_KEY, metadataText } from "../metadata.ts";
import { methodAccess, unmappedMethod } from "../methods.ts";
import { REQUEST_ID_KEY, toStatus } from "../status.ts";
import { rateLimitSubject } from "./rate-limit.ts";

/** The id of the key a caller presented (ids are public), never its secret; null when there is none. */
export const presentedKeyId = (authorization: string | undefined): string | null =>
  parseToken(bearerToken(authorization) ?? "")?.id ?? null;

export interface AuthInterceptorDeps {
  security: Security;
  limiter: RateLimiter;
  onInternal: (err: StorageError) => void;
}

interface Arrival {
  authorization: string | undefined;
  clientAddress: string;
  requestId: string | undefined;
  operation: string;
}

/**
 * Admits a StorageService call once its metadata arrives, before any message is read: the key is
 * authenticated, then the call is charged to the key's budget (`key:<id>`, the key's own rate
 * limit when it has one). A caller without a valid key is audited, charged to its address, and
 * gets UNAUTHENTICATED (or RESOURCE_EXHAUSTED once that address's budget is spent). Authorization
 * needs the bucket and key, which arrive in the first message: the handlers check it there.
 */
async function admit(deps: AuthInterceptorDeps, arrival: Arrival): Promise<void> {
  const { security, limiter } = deps;
  let principal: Principal;
  try {
    principal = await security.authenticate(arrival.authorization, arrival.clientAddress);
  } catch (err) {
    if (isStorageError(err) && (err.code === "UNAUTHENTICATED" || err.code === "RATE_LIMITED")) {
      await refusedAtArrival(deps, arrival, err.code);
    }
    throw err;
  }
  // With AUTH_DISABLED every caller is the same open principal: keep budgets per address then.
  const subject = principal.authDisabled ? arrival.clientAddress : `key:${principal.keyId}`;
  await limiter.consume(subject, principal.rateLimit);
}

/**
 * A call to a method without an access rule (methods.ts): audited and charged to the address like
 * a caller without a key, then refused. The server does not register such methods, so this only
 * fires when one was added around register.ts; deny by default must hold then too.
 */
async function refuseUnmapped(deps: AuthInterceptorDeps, arrival: Arrival): Promise<never> {
  const err = unmappedMethod(arrival.operation);
  await refusedAtArrival(deps, arrival, err.code);
  throw err;
}

/** A call refused before any message: one audit record (the presented key id, never a secret), charged to its address. */
async function refusedAtArrival(deps: AuthInterceptorDeps, arrival: Arrival, result: string): Promise<void> {
  await deps.security.recordAudit({
    keyId: presentedKeyId(arrival.authorization),
    service: null,
    protocol: "grpc",
    action: arrival.operation,
    result,
    requestId: arrival.requestId ?? null,
    clientAddress: arrival.clientAddress,
  });
  await deps.limiter.consume(arrival.clientAddress);
}

/**
 * Deny by default (see methods.ts): public services pass, keyed methods are authenticated and
 * charged per key, and any other path is refused with PERMISSION_DENIED, even with AUTH_DISABLED.
 * grpc-js holds messages and half-close until next() is called, so a refused call never reaches
 * its handler and no message of it is read.
 */
export function authInterceptor(deps: AuthInterceptorDeps): ServerInterceptor {
  return (descriptor, call) => {
    const access = methodAccess(descriptor.path);
    if (access.kind === "public") return new ServerInterceptingCall(call);
    let intercepting: ServerInterceptingCall | undefined;
    const listener = new ServerListenerBuilder()
      .withOnReceiveMetadata((metadata, next) => {
        const arrival: Arrival = {
          authorization: metadataText(metadata, AUTHORIZATION_KEY),
          clientAddress: rateLimitSubject(call),
          requestId: metadataText(metadata, REQUEST_ID_KEY),
          // An unmapped method is audited under its path: it has no operation name.
          operation: access.kind === "keyed" ? access.operation : descriptor.path,
        };
        (access.kind === "keyed" ? admit(deps, arrival) : refuseUnmapped(deps, arrival)).then(
          () => next(metadata),
          (err: unknown) => intercepting?.sendStatus(toStatus(err, deps.onInternal)),
        );
      })
      .build();
    intercepting = new ServerInterceptingCall(call, { start: (next) => next(listener) });
    return intercepting;
  };
}
