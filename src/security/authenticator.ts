import { createHash } from "node:crypto";
import { type RateLimiterAbstract, RateLimiterRes } from "rate-limiter-flexible";
import { StorageError } from "../errors.ts";
import type { ApiKeyInfo, KeyStore } from "./api-keys.ts";
import { createBudget, type SharedBudgetStore } from "./rate-limit.ts";
import { FULL_ACCESS, type Principal } from "./scopes.ts";
import { bearerToken, parseToken } from "./tokens.ts";

/**
 * Turns an `Authorization` value into a Principal, the same way for HTTP and gRPC. Verified keys
 * are cached for a short TTL (keyed by a SHA-256 of the token, never the token itself) so scrypt is
 * paid once per key rather than per request; revoke/rotate in this process drop the entry at once,
 * other instances within the TTL. Failed attempts are counted per client address: past the limit
 * the address gets RATE_LIMITED before any hashing, so guessing costs the guesser, not the server.
 *
 * They are also counted per presented key id (`badkey:<id>`, whether the id exists or not, so the
 * budget is no oracle either), from every address together: secrets for one id cannot be guessed
 * by spreading attempts over many addresses. Past that limit the id is refused (RATE_LIMITED)
 * before any hashing, even with the right secret, until its window ends. The one exception is a
 * token this instance has verified before (its cache entry, even expired, proves the caller held
 * the secret): it is re-verified and passes, so a prober who knows a public key id cannot lock out
 * the service already using that key. A new client, or another instance, waits out the window.
 *
 * With a shared store (PostgreSQL server) both budgets are counted across every instance, so a
 * guesser gains nothing by spreading attempts over the replicas behind a load balancer.
 */

export interface FailureBudget {
  points: number;
  windowSeconds: number;
}

const DEFAULT_BUDGET: FailureBudget = { points: 20, windowSeconds: 60 };

export interface AuthenticatorOptions {
  keys: KeyStore;
  /** AUTH_DISABLED=true: everyone gets the open principal. */
  disabled: boolean;
  cacheTtlSeconds: number;
  maxCacheEntries?: number;
  /** Failed attempts allowed per client address per window. */
  failures?: FailureBudget;
  /** Failed attempts allowed per presented key id per window, from all addresses together. */
  keyIdFailures?: FailureBudget;
  /** Where the failure budgets live when instances share them (else this process's memory). */
  store?: SharedBudgetStore;
  now?: () => number;
}

/** The principal of a service running with AUTH_DISABLED=true. */
export const OPEN_PRINCIPAL: Principal = Object.freeze({
  keyId: "auth-disabled",
  service: "anonymous",
  scopes: FULL_ACCESS,
  authDisabled: true,
});

const MISSING = "Missing credentials: send 'Authorization: Bearer <API key>'.";
// One message for malformed, unknown, revoked and wrong: no oracle for which it was.
const INVALID = "The API key is not valid.";

interface CacheEntry {
  principal: Principal;
  expiresAt: number;
}

export const toPrincipal = (key: ApiKeyInfo): Principal => ({
  keyId: key.id,
  service: key.service,
  scopes: key.scopes,
  ...(key.rateLimit === null ? {} : { rateLimit: key.rateLimit }),
});

/** The failure-budget subject of a presented key id. */
export const badKeySubject = (keyId: string): string => `badkey:${keyId}`;

const digest = (token: string) => createHash("sha256").update(token).digest("base64url");

export class Authenticator {
  readonly #keys: KeyStore;
  readonly #disabled: boolean;
  readonly #ttlMs: number;
  readonly #max: number;
  readonly #now: () => number;
  readonly #cache = new Map<string, CacheEntry>();
  readonly #inFlight = new Map<string, Promise<Principal | undefined>>();
  readonly #failures: RateLimiterAbstract;
  readonly #keyIdFailures: RateLimiterAbstract;
  /** Bumped on every invalidation, so a verification that raced a revoke is not cached. */
  #generation = 0;

  constructor(options: AuthenticatorOptions) {
    this.#keys = options.keys;
    this.#disabled = options.disabled;
    this.#ttlMs = options.cacheTtlSeconds * 1000;
    this.#max = options.maxCacheEntries ?? 10_000;
    this.#now = options.now ?? Date.now;
    const failures = options.failures ?? DEFAULT_BUDGET;
    this.#failures = createBudget(
      { name: "authfail", points: failures.points, windowSeconds: failures.windowSeconds },
      options.store,
    );
    const perId = options.keyIdFailures ?? DEFAULT_BUDGET;
    this.#keyIdFailures = createBudget(
      { name: "authkey", points: perId.points, windowSeconds: perId.windowSeconds },
      options.store,
    );
    options.keys.onInvalidate((keyId) => this.invalidate(keyId));
  }

  get disabled(): boolean {
    return this.#disabled;
  }

  /**
   * The caller behind an Authorization header value (`Bearer lss_...`). Throws UNAUTHENTICATED when
   * it is missing or not a live key, RATE_LIMITED when this address, or the presented key id from
   * any address, failed too often.
   */
  async authenticate(authorization: string | undefined, clientAddress: string): Promise<Principal> {
    if (this.#disabled) return OPEN_PRINCIPAL;
    if (authorization === undefined || authorization.trim() === "") {
      throw new StorageError("UNAUTHENTICATED", MISSING);
    }
    const token = bearerToken(authorization);
    const id = token === undefined ? undefined : digest(token);
    const cached = id === undefined ? undefined : this.#cache.get(id);
    if (cached && cached.expiresAt > this.#now()) return cached.principal;
    // An expired entry stays until the token is verified again (a success replaces it, a failure
    // drops it): it is what lets a proven token through its key id's lock.
    await this.#refuseIfBlocked(this.#failures, clientAddress);
    const keyId = token === undefined ? undefined : parseToken(token)?.id;
    if (keyId !== undefined && !cached)
      await this.#refuseIfBlocked(this.#keyIdFailures, badKeySubject(keyId));
    const principal = token === undefined || id === undefined ? undefined : await this.#verify(id, token);
    if (principal) return principal;
    if (id !== undefined) this.#cache.delete(id);
    await this.#countFailure(clientAddress, keyId);
    throw new StorageError("UNAUTHENTICATED", INVALID);
  }

  /** Forgets every cached verification of one key. */
  invalidate(keyId: string): void {
    this.#generation++;
    for (const [id, entry] of this.#cache) if (entry.principal.keyId === keyId) this.#cache.delete(id);
  }

  clear(): void {
    this.#generation++;
    this.#cache.clear();
  }

  /** Concurrent requests with the same uncached token share one verification. */
  #verify(id: string, token: string): Promise<Principal | undefined> {
    let pending = this.#inFlight.get(id);
    if (!pending) {
      const generation = this.#generation;
      pending = this.#keys
        .verify(token)
        .then((key) => {
          if (!key) return undefined;
          const principal = toPrincipal(key);
          if (generation === this.#generation) this.#remember(id, principal);
          return principal;
        })
        .finally(() => this.#inFlight.delete(id));
      this.#inFlight.set(id, pending);
    }
    return pending;
  }

  #remember(id: string, principal: Principal): void {
    this.#cache.delete(id);
    this.#cache.set(id, { principal, expiresAt: this.#now() + this.#ttlMs });
    // Map keeps insertion order: the first entry is the least recently verified.
    while (this.#cache.size > this.#max) {
      const oldest = this.#cache.keys().next().value;
      if (oldest === undefined) break;
      this.#cache.delete(oldest);
    }
  }

  async #refuseIfBlocked(limiter: RateLimiterAbstract, subject: string): Promise<void> {
    const state = await limiter.get(subject);
    if (state && state.remainingPoints <= 0) throw limited(state.msBeforeNext);
  }

  /** Charges the address and the presented key id (both, even when one is already spent). */
  async #countFailure(address: string, keyId: string | undefined): Promise<void> {
    const charges = [charge(this.#failures, address)];
    if (keyId !== undefined) charges.push(charge(this.#keyIdFailures, badKeySubject(keyId)));
    for (const outcome of await Promise.allSettled(charges)) {
      if (outcome.status === "rejected") throw outcome.reason;
    }
  }
}

async function charge(limiter: RateLimiterAbstract, subject: string): Promise<void> {
  try {
    await limiter.consume(subject);
  } catch (res) {
    if (res instanceof RateLimiterRes) throw limited(res.msBeforeNext);
    throw res;
  }
}

function limited(msBeforeNext: number): StorageError {
  const retryAfterSeconds = Math.max(1, Math.ceil(msBeforeNext / 1000));
  return new StorageError(
    "RATE_LIMITED",
    `Too many failed authentication attempts; retry in ${retryAfterSeconds} s.`,
    { retryAfterSeconds },
  );
}
