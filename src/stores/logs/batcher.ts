import type { Logger } from "pino";
import type { HourFile } from "./keys.ts";

/**
 * Batches appended lines per hour file in this process's memory, so that many small appends
 * become one part object: a batch is written when it holds `flushBytes`, when its oldest line is
 * `flushIntervalSeconds` old, on `flushAll()` and on `close()` (which shutdown calls). Lines
 * accepted but not yet flushed are lost if the process dies without shutting down; callers that
 * cannot accept that use upload (written at once) rather than append.
 */

export interface BatcherOptions {
  flushBytes: number;
  /** 0: no time bound (size, flushAll and close only). */
  flushIntervalSeconds: number;
  /** Writes one batch as one part; on failure the batch is kept for the next flush. */
  write: (file: HourFile, lines: string[]) => Promise<void>;
  logger: Logger;
}

interface Batch {
  file: HourFile;
  lines: string[];
  bytes: number;
  timer?: NodeJS.Timeout;
}

const id = (f: HourFile) => `${f.service}/${f.date}/${f.hour}/${f.filename}`;

export class LogBatcher {
  readonly #options: BatcherOptions;
  readonly #batches = new Map<string, Batch>();
  /** Flushes in flight, so flushAll and close wait for timer-started ones too. */
  readonly #inFlight = new Set<Promise<void>>();

  constructor(options: BatcherOptions) {
    this.#options = options;
  }

  /** Lines waiting in memory, over all hour files. */
  get pendingLines(): number {
    let n = 0;
    for (const b of this.#batches.values()) n += b.lines.length;
    return n;
  }

  /** Buffers lines (each without its "\n"); resolves after a size-triggered flush, if one ran. */
  async append(file: HourFile, lines: string[]): Promise<void> {
    const key = id(file);
    let batch = this.#batches.get(key);
    if (!batch) {
      batch = { file, lines: [], bytes: 0 };
      this.#batches.set(key, batch);
    }
    for (const line of lines) {
      batch.lines.push(line);
      batch.bytes += Buffer.byteLength(line) + 1;
    }
    if (batch.bytes >= this.#options.flushBytes) {
      await this.#flush(key);
      return;
    }
    if (!batch.timer && this.#options.flushIntervalSeconds > 0) {
      batch.timer = setTimeout(() => {
        this.#flush(key).catch((err: unknown) =>
          this.#options.logger.error({ err, file: key }, "log batch flush failed; kept for the next flush"),
        );
      }, this.#options.flushIntervalSeconds * 1000);
      batch.timer.unref();
    }
  }

  /** Writes every waiting batch; throws the first failure after trying all of them. */
  async flushAll(): Promise<void> {
    const results = await Promise.allSettled([...this.#batches.keys()].map((k) => this.#flush(k)));
    await Promise.allSettled([...this.#inFlight]);
    const failed = results.find((r) => r.status === "rejected");
    if (failed) throw (failed as PromiseRejectedResult).reason;
  }

  async #flush(key: string): Promise<void> {
    const batch = this.#batches.get(key);
    if (!batch) return;
    clearTimeout(batch.timer);
    // Taken out of the map before the write, so appends during it start a new batch.
    this.#batches.delete(key);
    if (batch.lines.length === 0) return;
    const write = this.#options.write(batch.file, batch.lines);
    this.#inFlight.add(write);
    try {
      await write;
    } catch (err) {
      this.#requeue(key, batch);
      throw err;
    } finally {
      this.#inFlight.delete(write);
    }
  }

  /** Puts a failed batch back ahead of lines appended meanwhile, keeping their order. */
  #requeue(key: string, failed: Batch): void {
    const newer = this.#batches.get(key);
    const batch: Batch = {
      file: failed.file,
      lines: [...failed.lines, ...(newer?.lines ?? [])],
      bytes: failed.bytes + (newer?.bytes ?? 0),
    };
    if (newer?.timer) batch.timer = newer.timer;
    this.#batches.set(key, batch);
  }
}
