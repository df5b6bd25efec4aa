import type { Logger } from "pino";
import type { StorageService } from "../../core/storage-service.ts";
import type { ObjectInfo } from "../../core/types.ts";
import { LogBatcher } from "./batcher.ts";
import { type CompactResult, compactHour } from "./compact.ts";
import { type Compression, type HourFile, hourFile, hourOf, partKey } from "./keys.ts";
import { childNames } from "./listing.ts";
import { writeLogObject } from "./objects.ts";
import { type DayObject, type DayQuery, dayObjects, readDay } from "./read.ts";
import { type RotateReport, type RotateRequest, rotateLogs } from "./rotate.ts";

export interface LogArchiveOptions {
  service: StorageService;
  bucket: string;
  compression: Compression;
  retentionDays: number;
  flushBytes: number;
  flushIntervalSeconds: number;
  /** Scheduled compaction of closed hours after start() (0: on demand only). */
  compactIntervalSeconds: number;
  logger: Logger;
}

export interface LogTarget {
  service: string;
  /** Default: the current UTC date and hour. */
  date?: string;
  hour?: string | number;
  /** Default "app". */
  filename?: string;
}

const HOUR_MS = 3_600_000;
/** A closed hour is compacted only after this long, so late flushes of other instances land first. */
const CLOSED_GRACE_MS = 5 * 60_000;
/** How many days back the scheduled compaction looks for closed hours with parts. */
const COMPACT_LOOKBACK_DAYS = 2;

/** The log archive in the logs bucket (see keys.ts for its layout, README "Log archive"). */
export class LogArchive {
  readonly bucket: string;
  readonly compression: Compression;
  readonly retentionDays: number;
  readonly #o: LogArchiveOptions;
  readonly #batcher: LogBatcher;
  #compactor: NodeJS.Timeout | undefined;
  #compacting = false;

  constructor(options: LogArchiveOptions) {
    this.#o = options;
    this.bucket = options.bucket;
    this.compression = options.compression;
    this.retentionDays = options.retentionDays;
    this.#batcher = new LogBatcher({
      flushBytes: options.flushBytes,
      flushIntervalSeconds: options.flushIntervalSeconds,
      logger: options.logger,
      write: async (file, lines) => {
        await this.#writePart(
          file,
          lines.map((l) => `${l}\n`),
        );
      },
    });
  }

  #target(t: LogTarget): HourFile {
    const now = hourOf(new Date());
    return hourFile({
      service: t.service,
      date: t.date ?? now.date,
      hour: t.hour ?? (t.date ? "00" : now.hour),
      ...(t.filename ? { filename: t.filename } : {}),
    });
  }

  #writePart(
    file: HourFile,
    source: Iterable<string | Buffer> | AsyncIterable<string | Buffer>,
  ): Promise<ObjectInfo> {
    return writeLogObject({
      service: this.#o.service,
      bucket: this.bucket,
      key: partKey(file, this.compression),
      compression: this.compression,
      source,
      owner: "lumenslate-logs",
    });
  }

  /**
   * Stores log content (text or a file's stream) for an hour at once, as one part of that hour's
   * file; a trailing newline is added if missing so the next part starts on a new line.
   */
  async upload(
    target: LogTarget,
    content: AsyncIterable<Buffer | string> | Iterable<Buffer> | string,
  ): Promise<ObjectInfo> {
    const file = this.#target(target);
    async function* withNewline(): AsyncGenerator<Buffer> {
      let last = 10;
      for await (const chunk of typeof content === "string" ? [content] : content) {
        const buf = typeof chunk === "string" ? Buffer.from(chunk) : chunk;
        if (buf.length > 0) last = buf[buf.length - 1] as number;
        yield buf;
      }
      if (last !== 10) yield Buffer.from("\n");
    }
    return this.#writePart(file, withNewline());
  }

  /** Buffers lines for an hour file; written in batches (batcher.ts). Returns the file appended to. */
  async append(target: LogTarget, lines: string[]): Promise<HourFile> {
    const file = this.#target(target);
    // A line is one line: embedded newlines would split it on read anyway, so split it now.
    await this.#batcher.append(
      file,
      lines.flatMap((l) => l.replace(/\r?\n$/, "").split(/\r?\n/)),
    );
    return file;
  }

  flush(): Promise<void> {
    return this.#batcher.flushAll();
  }

  get pendingLines(): number {
    return this.#batcher.pendingLines;
  }

  list(q: DayQuery): Promise<DayObject[]> {
    return dayObjects(this.#o, q).then((all) =>
      all.map(({ key, hour, filename, part, size }) => ({ key, hour, filename, part, size })),
    );
  }

  read(q: DayQuery, signal?: AbortSignal): AsyncGenerator<string> {
    return readDay(this.#o, q, signal);
  }

  rotate(req: Omit<RotateRequest, "retentionDays"> & { retentionDays?: number }): Promise<RotateReport> {
    return rotateLogs(this.#o, { ...req, retentionDays: req.retentionDays ?? this.retentionDays });
  }

  /** Compacts one hour now (on demand; an open hour too: later appends become new parts). */
  compact(target: { service: string; date: string; hour: string | number }): Promise<CompactResult> {
    return compactHour(this.#o, this.#target(target));
  }

  /** Compacts every closed hour (of the last two days) that still has parts. */
  async compactClosed(now = new Date()): Promise<CompactResult[]> {
    const closedBefore = Math.floor((now.getTime() - CLOSED_GRACE_MS) / HOUR_MS) * HOUR_MS;
    const days = new Set<string>();
    for (let d = 0; d <= COMPACT_LOOKBACK_DAYS; d++)
      days.add(hourOf(new Date(now.getTime() - d * 86_400_000)).date);
    const out: CompactResult[] = [];
    for (const service of await childNames(this.#o.service, this.bucket, "")) {
      if (!/^[a-z0-9][a-z0-9._-]{0,62}$/.test(service)) continue;
      for (const date of await childNames(this.#o.service, this.bucket, `${service}/`)) {
        if (!days.has(date)) continue;
        for (const hour of await childNames(this.#o.service, this.bucket, `${service}/${date}/`)) {
          if (!/^\d{2}$/.test(hour) || Date.parse(`${date}T${hour}:00:00Z`) + HOUR_MS > closedBefore)
            continue;
          const hasParts = (
            await childNames(this.#o.service, this.bucket, `${service}/${date}/${hour}/`)
          ).includes("_parts");
          if (!hasParts) continue;
          const r = await this.compact({ service, date, hour });
          if (r.objects > 0) out.push(r);
        }
      }
    }
    return out;
  }

  /** Starts the scheduled compaction of closed hours (serve calls this; never two runs at once). */
  start(): void {
    const every = this.#o.compactIntervalSeconds;
    if (every <= 0 || this.#compactor) return;
    this.#compactor = setInterval(() => {
      if (this.#compacting) return;
      this.#compacting = true;
      this.compactClosed()
        .then((done) => {
          for (const r of done) this.#o.logger.info(r, "log hour compacted");
        })
        .catch((err: unknown) => this.#o.logger.error({ err }, "log compaction failed; retrying next run"))
        .finally(() => {
          this.#compacting = false;
        });
    }, every * 1000);
    this.#compactor.unref();
  }

  /** Stops the schedule and writes what is buffered, so accepted lines are not lost at shutdown. */
  async close(): Promise<void> {
    clearInterval(this.#compactor);
    this.#compactor = undefined;
    await this.#batcher.flushAll();
  }
}
