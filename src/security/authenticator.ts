import { createHash } from "node:crypto";
import { RateLimiterMemory, RateLimiterRes } from "rate-limiter-flexible";
import { StorageError } from "../errors.ts";
import type { ApiKeyInfo, KeyStore } from "./api-keys.ts";
import { FULL_ACCESS, type Principal } from "./scopes.ts";
import { bearerToken } from "./tokens.ts";

/**
 * Turns an `Authorization` value into a Principal, the same way for HTTP and gRPC. Verified keys
 * are cached for a short TTL (keyed by a SHA-256 of the token, never the token itself) so scrypt is
 * paid once per key rather than per request; revoke/rotate in this process drop the entry at once,
 * other instances within the TTL. Failed attempts are counted per client address: past the limit
 * the address gets RATE_LIMITED before any hashing, so guessing costs the guesser, not the server.
 */

export interface AuthenticatorOptions {
  keys: KeyStore;
  /** AUTH_DISABLED=true: everyone gets the open principal. */
  disabled: boolean;
  cacheTtlSeconds: number;
  maxCacheEntries?: number;
  /** Failed attempts allowed per client address per window. */
  failures?: { points: number; windowSeconds: number };
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

const digest = (token: string) => createHash("sha256").update(token).digest("base64url");

export class Authenticator {
  readonly #keys: KeyStore;
  readonly #disabled: boolean;
  readonly #ttlMs: number;
  readonly #max: number;
  readonly #now: () => number;
  readonly #cache = new Map<string, CacheEntry>();
  readonly #inFlight = new Map<string, Promise<Principal | undefined>>();
  readonly #failures: RateLimiterMemory;
  /** Bumped on every invalidation, so a verification that raced a revoke is not cached. */
  #generation = 0;

  constructor(options: AuthenticatorOptions) {
    this.#keys = options.keys;
    this.#disabled = options.disabled;
    this.#ttlMs = options.cacheTtlSeconds * 1000;
    this.#max = options.maxCacheEntries ?? 10_000;
    this.#now = options.now ?? Date.now;
    const failures = options.failures ?? { points: 20, windowSeconds: 60 };
    this.#failures = new RateLimiterMemory({ points: failures.points, duration: failures.windowSeconds });
    options.keys.onInvalidate((keyId) => this.invalidate(keyId));
  }

  get disabled(): boolean {
    return this.#disabled;
  }

  /**
   * The caller behind an Authorization header value (`Bearer lss_...`). Throws UNAUTHENTICATED when
   * it is missing or not a live key, RATE_LIMITED when this address failed too often.
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
    if (cached && id !== undefined) this.#cache.delete(id);
    await this.#refuseIfBlocked(clientAddress);
    const principal = token === undefined || id === undefined ? undefined : await this.#verify(id, token);
    if (principal) return principal;
    await this.#countFailure(clientAddress);
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

  async #refuseIfBlocked(address: string): Promise<void> {
    const state = await this.#failures.get(address);
    if (state && state.remainingPoints <= 0) throw limited(state.msBeforeNext);
  }

  async #countFailure(address: string): Promise<void> {
    try {
      await this.#failures.consume(address);
    } catch (res) {
      if (res instanceof RateLimiterRes) throw limited(res.msBeforeNext);
      throw res;
    }
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
