import type { Logger } from "pino";
import { EXPIRES_AT, expiryOf } from "../../core/expiry.ts";
import { validateKey } from "../../core/keys.ts";
import type { StorageService } from "../../core/storage-service.ts";
import type { ObjectInfo } from "../../core/types.ts";
import type { Database } from "../../metadata/database.ts";
import { PeriodicTask } from "../../periodic.ts";
import { Expiries } from "./expiries.ts";
import { sweepExpired } from "./sweep.ts";
import { resolveExpiry, type TtlLimits } from "./ttl.ts";
import type { SweepOptions, SweepReport, TempObject, TempPut, TempStore } from "./types.ts";

export interface TempStoreDeps {
  service: StorageService;
  db: Database;
  bucket: string;
  limits: TtlLimits;
  sweepIntervalSeconds: number;
  /** TEMP_STORAGE_EXPIRY_DAYS: the lifecycle rule's term. */
  lifecycleDays: number;
  logger: Logger;
}

/**
 * Temp uploads: each object carries its expiry in its metadata (`expires-at`), which the core
 * enforces on every read (core/expiry.ts), and in this store's table, which the sweep reads to
 * delete what is due. The bucket's lifecycle rule (TEMP_STORAGE_EXPIRY_DAYS) is the backstop.
 */
export class Temp implements TempStore {
  readonly bucket: string;
  readonly #deps: TempStoreDeps;
  readonly #expiries: Expiries;
  readonly #timer: PeriodicTask;

  constructor(deps: TempStoreDeps) {
    this.#deps = deps;
    this.bucket = deps.bucket;
    this.#expiries = new Expiries(deps.db, deps.bucket);
    this.#timer = new PeriodicTask(
      "temp sweep",
      async () => {
        const report = await this.sweep();
        if (report.deleted + report.gone + report.failed > 0) deps.logger.info({ report }, "temp sweep");
      },
      deps.logger,
    );
  }

  async put(req: TempPut): Promise<TempObject> {
    const expiresAt = resolveExpiry(req, this.#deps.limits);
    // The key as the core will store it (NFC), and never a record for a key the core would refuse.
    const key = validateKey(req.key);
    // The record first: should the upload then fail, the sweep finds no object (or the earlier one,
    // whose own expiry it follows), whereas an object without a record would wait for the lifecycle rule.
    // The announced size, when it is one (the core refuses a bad one below): the sweep's byte count.
    const announced = req.expectedSize ?? 0;
    await this.#expiries.record(
      key,
      expiresAt,
      Number.isSafeInteger(announced) && announced > 0 ? announced : 0,
    );
    const info = await this.#deps.service.upload({
      bucket: this.bucket,
      key,
      body: req.body,
      owner: req.owner,
      metadata: { ...req.metadata, [EXPIRES_AT]: expiresAt.toISOString() },
      ...(req.contentType ? { contentType: req.contentType } : {}),
      ...(req.expectedSize !== undefined ? { expectedSize: req.expectedSize } : {}),
      ...(req.signal ? { signal: req.signal } : {}),
    });
    // Only the sweep's byte count depends on the size: a failure here is not the caller's.
    if (req.expectedSize !== info.size) {
      await this.#expiries.record(info.key, expiresAt, info.size).catch((err: unknown) => {
        this.#deps.logger.warn({ err, key: info.key }, "temp: could not record the object's size");
      });
    }
    return { info, expiresAt };
  }

  async get(key: string, options: { signal?: AbortSignal } = {}) {
    const download = await this.#deps.service.download(this.bucket, key, options);
    return { info: download.info, expiresAt: this.#expiryOf(download.info), body: download.body };
  }

  async stat(key: string): Promise<TempObject> {
    const info = await this.#deps.service.stat(this.bucket, key);
    return { info, expiresAt: this.#expiryOf(info) };
  }

  sweep(options: SweepOptions = {}): Promise<SweepReport> {
    const { service, logger } = this.#deps;
    return sweepExpired({ service, logger, expiries: this.#expiries, bucket: this.bucket }, options);
  }

  /** Sweeps every sweepIntervalSeconds, one sweep at a time; stop() ends it. */
  start(): void {
    this.#timer.start(this.#deps.sweepIntervalSeconds);
  }

  stop(): void {
    this.#timer.stop();
  }

  /**
   * An object written around this store (a generic PUT without x-meta-expires-at) lives until the
   * lifecycle rule removes it, about that many days after its last change.
   */
  #expiryOf(info: ObjectInfo): Date {
    return (
      expiryOf(info.metadata) ?? new Date(info.lastModified.getTime() + this.#deps.lifecycleDays * 86_400_000)
    );
  }
}
