import { evaluate, type Flag } from "./flags.ts";
import type { FlagEvaluation } from "./types.ts";

/**
 * Flags are read on hot paths, so each instance keeps a flag it read for a short TTL
 * (CONFIG_FLAG_CACHE_TTL_SECONDS). A change made through this instance drops its entry at once;
 * other instances see it when their entry expires, so within the TTL. Concurrent misses for one
 * flag share one read.
 */

interface Entry {
  loaded: Promise<{ flag: Flag; version: number }>;
  expires: number;
}

const MAX_FLAGS = 10_000;

export class FlagCache {
  readonly #ttlMs: number;
  readonly #now: () => number;
  readonly #entries = new Map<string, Entry>();

  constructor(ttlMs: number, now: () => number) {
    this.#ttlMs = ttlMs;
    this.#now = now;
  }

  async evaluate(
    name: string,
    subject: string,
    load: () => Promise<{ flag: Flag; version: number }>,
  ): Promise<FlagEvaluation> {
    let entry = this.#entries.get(name);
    if (!entry || entry.expires <= this.#now()) {
      const loaded = load();
      entry = { loaded, expires: this.#now() + this.#ttlMs };
      if (this.#ttlMs > 0) {
        if (this.#entries.size >= MAX_FLAGS) this.#entries.clear();
        this.#entries.set(name, entry);
        // A failed read is not remembered: the next call tries again.
        loaded.catch(() => {
          if (this.#entries.get(name) === entry) this.#entries.delete(name);
        });
      }
    }
    const { flag, version } = await entry.loaded;
    return { flag: name, subject, version, ...evaluate(name, flag, subject) };
  }

  forget(name: string): void {
    this.#entries.delete(name);
  }
}
