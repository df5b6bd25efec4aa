import type { ListedObject } from "../backends/object-store.ts";
import { validateBucket } from "../core/keys.ts";
import type { StorageService } from "../core/storage-service.ts";
import { StorageError } from "../errors.ts";
import { compareKeys } from "../metadata/listing.ts";
import type { IndexEntry, MetadataRepository } from "../metadata/repository.ts";
import type { Growth, IndexStats, LargeObject, PrefixUsage } from "../metadata/stats.ts";
import type { StatsMetrics } from "./stats-metrics.ts";

export type { Growth, LargeObject, PrefixUsage } from "../metadata/stats.ts";

/** Totals of a bucket (or of every bucket): the sums of its prefixes. */
export interface UsageTotals {
  objects: number;
  bytes: number;
  versions: number;
  noncurrentBytes: number;
  growthDay: Growth;
  growthWeek: Growth;
}

export interface BucketUsage extends UsageTotals {
  bucket: string;
  prefixes: PrefixUsage[];
  largest: LargeObject[];
}

export interface StorageStatsReport {
  generatedAt: Date;
  totals: UsageTotals;
  buckets: BucketUsage[];
}

/** Drift between the store's listing and the index's current rows, in one bucket. */
export interface BucketDrift {
  bucket: string;
  index: { objects: number; bytes: number };
  store: { objects: number; bytes: number };
  /** In the store, unknown to the index (written around the service). */
  objectsWithoutRows: { key: string; size: number }[];
  /** In the index, gone from the store (removed around the service, or expired). */
  rowsWithoutObjects: { key: string; size: number }[];
  /** On both sides with different sizes. */
  sizeMismatched: { key: string; indexSize: number; storeSize: number }[];
  /** store.bytes - index.bytes. */
  byteDifference: number;
  /** Drifted keys found beyond the first MAX_DRIFT_KEYS (counted in the totals above, not named). */
  unlisted: number;
}

export const DEFAULT_LARGEST = 10;
export const MAX_LARGEST = 1000;
const MAX_DRIFT_KEYS = 1000;

export interface StorageStatsDeps {
  stats: IndexStats;
  /** Read only: its latest rows' keys and sizes (latestEntries), for --verify. */
  index: MetadataRepository;
  service: StorageService;
  /** The deployment's buckets (config.buckets): what global stats cover. */
  buckets: readonly string[];
  metrics: StatsMetrics;
}

const zeroGrowth = (): Growth => ({ objects: 0, bytes: 0 });
const emptyTotals = (): UsageTotals => ({
  objects: 0,
  bytes: 0,
  versions: 0,
  noncurrentBytes: 0,
  growthDay: zeroGrowth(),
  growthWeek: zeroGrowth(),
});

function addTo(sum: UsageTotals, part: UsageTotals): UsageTotals {
  sum.objects += part.objects;
  sum.bytes += part.bytes;
  sum.versions += part.versions;
  sum.noncurrentBytes += part.noncurrentBytes;
  sum.growthDay.objects += part.growthDay.objects;
  sum.growthDay.bytes += part.growthDay.bytes;
  sum.growthWeek.objects += part.growthWeek.objects;
  sum.growthWeek.bytes += part.growthWeek.bytes;
  return sum;
}

/**
 * Storage statistics: usage per bucket and depth-1 prefix from the metadata index (fast, no store
 * listing), and on request a check of the index against the store's own listing (`verify`).
 * Read-only on both sides; every figure it computes also updates the per-bucket gauges.
 */
export class StorageStats {
  readonly #d: StorageStatsDeps;

  constructor(deps: StorageStatsDeps) {
    this.#d = deps;
  }

  get buckets(): readonly string[] {
    return this.#d.buckets;
  }

  /** One bucket's usage. A bucket neither configured nor in the store is NOT_FOUND. */
  async bucket(bucket: string, options: { largest?: number; now?: Date } = {}): Promise<BucketUsage> {
    validateBucket(bucket);
    const largest = largestCount(options.largest);
    if (!this.#d.buckets.includes(bucket) && !(await this.#d.service.bucketExists(bucket))) {
      throw new StorageError("NOT_FOUND", `Bucket ${bucket} does not exist.`, { bucket });
    }
    const prefixes = await this.#d.stats.prefixes(bucket, options.now);
    const usage: BucketUsage = {
      bucket,
      ...prefixes.reduce(addTo, emptyTotals()),
      prefixes,
      largest: largest > 0 ? await this.#d.stats.largest(bucket, largest) : [],
    };
    this.#d.metrics.bucketObjects.set({ bucket }, usage.objects);
    this.#d.metrics.bucketBytes.set({ bucket }, usage.bytes);
    return usage;
  }

  /** Every configured bucket's usage and the totals over them. */
  async all(options: { largest?: number; now?: Date } = {}): Promise<StorageStatsReport> {
    const generatedAt = options.now ?? new Date();
    const buckets: BucketUsage[] = [];
    for (const name of this.#d.buckets) {
      buckets.push(await this.bucket(name, { ...options, now: generatedAt }));
    }
    const totals = buckets.reduce(addTo, emptyTotals());
    return { generatedAt, totals, buckets };
  }

  /**
   * The index against the store, bucket by bucket (default: every configured bucket that exists):
   * both walked in key order side by side, a page of each at a time, so memory stays flat. The
   * index side reads key-only keyset pages (latestEntries, as reconcile does): full rows would parse
   * timestamps and metadata JSON per row that drift never looks at.
   */
  async verify(buckets: readonly string[] = []): Promise<BucketDrift[]> {
    const names = buckets.length > 0 ? buckets.map((b) => validateBucket(b)) : this.#d.buckets;
    const out: BucketDrift[] = [];
    for (const bucket of names) {
      if (!(await this.#d.service.bucketExists(bucket))) {
        if (buckets.length > 0)
          throw new StorageError("NOT_FOUND", `Bucket ${bucket} does not exist.`, { bucket });
        continue;
      }
      out.push(
        await driftOf(bucket, this.#d.service.storeListing(bucket), this.#d.index.latestEntries(bucket)),
      );
    }
    return out;
  }
}

function largestCount(value: number | undefined): number {
  if (value === undefined) return DEFAULT_LARGEST;
  if (!Number.isInteger(value) || value < 0 || value > MAX_LARGEST) {
    throw new StorageError("INVALID_ARGUMENT", `largest must be a whole number from 0 to ${MAX_LARGEST}.`, {
      field: "largest",
    });
  }
  return value;
}

async function driftOf(
  bucket: string,
  objects: AsyncGenerator<ListedObject>,
  rows: AsyncGenerator<IndexEntry>,
): Promise<BucketDrift> {
  const d: BucketDrift = {
    bucket,
    index: { objects: 0, bytes: 0 },
    store: { objects: 0, bytes: 0 },
    objectsWithoutRows: [],
    rowsWithoutObjects: [],
    sizeMismatched: [],
    byteDifference: 0,
    unlisted: 0,
  };
  const note = <T>(list: T[], entry: T) => {
    if (list.length < MAX_DRIFT_KEYS) list.push(entry);
    else d.unlisted++;
  };
  let object = await objects.next();
  let row = await rows.next();
  while (!object.done || !row.done) {
    const order = object.done ? 1 : row.done ? -1 : compareKeys(object.value.key, row.value.key);
    if (order <= 0 && !object.done) {
      d.store.objects++;
      d.store.bytes += object.value.size;
    }
    if (order >= 0 && !row.done) {
      d.index.objects++;
      d.index.bytes += row.value.size;
    }
    if (order < 0 && !object.done)
      note(d.objectsWithoutRows, { key: object.value.key, size: object.value.size });
    else if (order > 0 && !row.done) note(d.rowsWithoutObjects, { key: row.value.key, size: row.value.size });
    else if (!object.done && !row.done && object.value.size !== row.value.size) {
      note(d.sizeMismatched, { key: row.value.key, indexSize: row.value.size, storeSize: object.value.size });
    }
    if (order <= 0) object = await objects.next();
    if (order >= 0) row = await rows.next();
  }
  d.byteDifference = d.store.bytes - d.index.bytes;
  return d;
}

/** How many drifted keys a report found, named or not. */
export const driftCount = (d: BucketDrift): number =>
  d.objectsWithoutRows.length + d.rowsWithoutObjects.length + d.sizeMismatched.length + d.unlisted;
