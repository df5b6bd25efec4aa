import {
  type RateLimiterAbstract,
  RateLimiterMemory,
  RateLimiterPostgres,
  RateLimiterRes,
} from "rate-limiter-flexible";
import type { Config } from "../config/config.ts";
import { StorageError } from "../errors.ts";

/**
 * Where budgets live when instances share them: a PostgreSQL connection pool (a `pg.Pool`; typed by
 * the one method the limiter calls, so this layer imports nothing of the metadata layer).
 */
export interface SharedBudgetStore {
  client: { query(query: { text: string; values?: unknown[]; name?: string }): Promise<unknown> };
  /**
   * Prefix of every budget's key, so deployments that share one database (STORAGE_BUCKET_PREFIX
   * tells them apart everywhere else) do not share budgets.
   */
  namespace: string;
}

/** Created by migration 0004_rate_limits, with the columns rate-limiter-flexible expects. */
export const RATE_LIMIT_TABLE = "rate_limits";

export interface BudgetOptions {
  /** Distinguishes budgets within one store, e.g. `rl1000` or `authfail`. */
  name: string;
  points: number;
  windowSeconds: number;
  /** Delete long-expired rows now and then (one budget per process is enough: they share a table). */
  sweep?: boolean;
}

/**
 * One budget: in this process's memory, or with a store in PostgreSQL, where every instance of
 * the deployment draws from the same count. Should PostgreSQL fail, the budget falls back to
 * memory (per instance) rather than failing requests: a rate limit degrades, it never blocks.
 */
export function createBudget(options: BudgetOptions, store?: SharedBudgetStore): RateLimiterAbstract {
  const memory = new RateLimiterMemory({
    points: options.points,
    duration: options.windowSeconds,
    keyPrefix: options.name,
  });
  if (!store) return memory;
  return new RateLimiterPostgres({
    storeClient: store.client,
    storeType: "pool",
    tableName: RATE_LIMIT_TABLE,
    tableCreated: true,
    clearExpiredByTimeout: options.sweep ?? false,
    keyPrefix: `${store.namespace}${options.name}`,
    points: options.points,
    duration: options.windowSeconds,
    // Once a subject is over budget this instance stops asking PostgreSQL until the window ends.
    inMemoryBlockOnConsumed: options.points + 1,
    insuranceLimiter: memory,
  });
}

/**
 * One request limiter shared by every transport, so a caller cannot double its budget by switching
 * protocol. Subjects are caller identities (an API key id, or a client address when anonymous).
 * With a shared store (a PostgreSQL server: see app.ts) the budgets are per deployment, across
 * instances; without one (embedded database) each instance enforces its own.
 */
export class RateLimiter {
  readonly #settings: Config["rateLimit"];
  readonly #store: SharedBudgetStore | undefined;
  /** One limiter per distinct budget: the default, and each per-key override (API keys may carry their own). */
  readonly #limiters = new Map<number, RateLimiterAbstract>();

  constructor(settings: Config["rateLimit"], store?: SharedBudgetStore) {
    this.#settings = settings;
    this.#store = store;
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
      limiter = createBudget(
        {
          name: `rl${points}`,
          points,
          windowSeconds: this.#settings.windowSeconds,
          sweep: points === this.#settings.requests,
        },
        this.#store,
      );
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
