import type { Readable } from "node:stream";
import type { ObjectInfo } from "../../core/types.ts";

/** An upload to the temp bucket; its time to live is `ttlSeconds` or `expiresAt`, never both. */
export interface TempPut {
  key: string;
  body: Readable;
  /** Seconds from now (1 to TEMP_MAX_TTL); neither this nor expiresAt: TEMP_DEFAULT_TTL. */
  ttlSeconds?: number;
  /** An instant in the future, at most TEMP_MAX_TTL away. */
  expiresAt?: Date;
  contentType?: string;
  /** Other user metadata; `expires-at` is the store's own. */
  metadata?: Record<string, string>;
  expectedSize?: number;
  owner: string;
  signal?: AbortSignal;
}

export interface TempObject {
  info: ObjectInfo;
  expiresAt: Date;
}

export interface SweepOptions {
  /** Report what would be deleted, and delete nothing. */
  dryRun?: boolean;
  /** Objects examined per batch (default 100). */
  batchSize?: number;
  /** Objects whose expiry is at or before this instant are deleted (default: now). */
  now?: Date;
  signal?: AbortSignal;
}

export interface SweepReport {
  bucket: string;
  dryRun: boolean;
  /** Expired objects deleted (in a dry run: that would be). */
  deleted: number;
  /** Their bytes. */
  bytes: number;
  /** Records whose object was already gone (lifecycle rule, a DELETE): dropped. */
  gone: number;
  /** Records whose object was replaced by one that lives longer: kept, with the new expiry. */
  renewed: number;
  /** Objects that could not be examined or deleted (logged); the next sweep tries again. */
  failed: number;
}

/** Uploads with a time to live in the temp bucket; see temp-store.ts. */
export interface TempStore {
  readonly bucket: string;
  put(req: TempPut): Promise<TempObject>;
  /** Refused with NOT_FOUND ("expired at ...") from the expiry instant on. */
  get(key: string, options?: { signal?: AbortSignal }): Promise<TempObject & { body: Readable }>;
  stat(key: string): Promise<TempObject>;
  sweep(options?: SweepOptions): Promise<SweepReport>;
  /** Starts the periodic sweep (TEMP_SWEEP_INTERVAL; nothing when 0). */
  start(): void;
  stop(): void;
}
