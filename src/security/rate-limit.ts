import { RateLimiterMemory, RateLimiterRes } from "rate-limiter-flexible";
import type { Config } from "../config/config.ts";
import { StorageError } from "../errors.ts";

/**
 * One request limiter shared by every transport, so a caller cannot double its budget by switching
 * protocol. Subjects are caller identities (an API key id, or a client address when anonymous).
 * In memory, per instance: behind a load balancer each instance enforces its own share.
 */
export class RateLimiter {
  readonly #limiter: RateLimiterMemory | undefined;

  constructor(settings: Config["rateLimit"]) {
    this.#limiter = settings.enabled
      ? new RateLimiterMemory({ points: settings.requests, duration: settings.windowSeconds })
      : undefined;
  }

  /** Takes one request from the subject's budget; throws RATE_LIMITED with `retryAfterSeconds` when empty. */
  async consume(subject: string, cost = 1): Promise<void> {
    if (!this.#limiter) return;
    try {
      await this.#limiter.consume(subject, cost);
    } catch (res) {
      if (!(res instanceof RateLimiterRes)) throw res;
      const retryAfterSeconds = Math.max(1, Math.ceil(res.msBeforeNext / 1000));
      throw new StorageError("RATE_LIMITED", `Too many requests; retry in ${retryAfterSeconds} s.`, {
        retryAfterSeconds,
      });
    }
  }
}
