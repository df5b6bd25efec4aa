import type { ObjectStore } from "../backends/object-store.ts";

/**
 * Remembers for a few seconds that a bucket exists, so a burst of small uploads does not pay a
 * HEAD-bucket round trip each. Only "exists" is remembered: a bucket created a moment ago is seen
 * at once. A bucket deleted within the TTL is still caught, later, by the store's own NoSuchBucket
 * (mapped to NOT_FOUND), and `forget` drops it at once.
 */
export class KnownBuckets {
  readonly #store: ObjectStore;
  readonly #ttlMs: number;
  readonly #now: () => number;
  readonly #seen = new Map<string, number>();

  constructor(store: ObjectStore, options: { ttlMs?: number; now?: () => number } = {}) {
    this.#store = store;
    this.#ttlMs = options.ttlMs ?? 5_000;
    this.#now = options.now ?? Date.now;
  }

  async exists(bucket: string): Promise<boolean> {
    const until = this.#seen.get(bucket);
    if (until !== undefined && until > this.#now()) return true;
    const exists = await this.#store.bucketExists(bucket);
    if (exists) {
      // Bounded: the service only ever sees the handful of buckets it is configured for, but a
      // caller probing many names must not grow this map without limit.
      if (this.#seen.size >= 1_000) this.#seen.clear();
      this.#seen.set(bucket, this.#now() + this.#ttlMs);
    } else {
      this.#seen.delete(bucket);
    }
    return exists;
  }

  forget(bucket: string): void {
    this.#seen.delete(bucket);
  }
}
