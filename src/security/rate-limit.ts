import { RateLimiterMemory, RateLimiterRes } from "rate-limiter-flexible";
import type { Config } from "../config/config.ts";
import { StorageError } from "../errors.ts";

/**
 * One request limiter shared by every transport, so a caller cannot double its budget by switching
 * protocol. Subjects are caller identities (an API key id, or a client address when anonymous).
 * In memory, per instance: behind a load balancer each instance enforces its own share.
 */
export class RateLimiter {
  readonly #settings: Config["rateLimit"];
  /** One limiter per distinct budget: the default, and each per-key override (API keys may carry their own). */
  readonly #limiters = new Map<number, RateLimiterMemory>();

  constructor(settings: Config["rateLimit"]) {
    this.#settings = settings;
  }

  /**
   * Takes one request from the subject's budget (`requestsPerWindow` overrides the configured one,
   * e.g. a key's own limit); throws RATE_LIMITED with `retryAfterSeconds` when it is empty.
   */
  async consume(subject: string, requestsPerWindow?: number): Promise<void> {
    if (!this.#settings.enabled) return;
    const points = requestsPerWindow ?? this.#settings.requests;
    let limiter = this.#limiters.get(points);
    if (!limiter) {
      limiter = new RateLimiterMemory({
        points,
        duration: this.#settings.windowSeconds,
        keyPrefix: `rl${points}`,
      });
      this.#limiters.set(points, limiter);
    }
    try {
      await limiter.consume(subject, 1);
    } catch (res) {
      if (!(res instanceof RateLimiterRes)) throw res;
      const retryAfterSeconds = Math.max(1, Math.ceil(res.msBeforeNext / 1000));
      throw new StorageError("RATE_LIMITED", `Too many requests; retry in ${retryAfterSeconds} s.`, {
        retryAfterSeconds,
      });
    }
  }
}
