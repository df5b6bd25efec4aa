import { AsyncLocalStorage } from "node:async_hooks";
import pino, { type Level, type Logger } from "pino";
import type { LogTarget } from "../stores/logs/index.ts";

/** Where the service's own lines go in the archive: `lumenslate-storage/<date>/<hour>/service`. */
export const OWN_LOGS: Omit<LogTarget, "date" | "hour"> = {
  service: "lumenslate-storage",
  filename: "service",
};

interface Archive {
  append(target: LogTarget, lines: string[]): Promise<unknown>;
}

export interface ShippedLogs {
  /** Lines handed to the archive, and lines the archive refused (store down, ...). */
  readonly shipped: number;
  readonly failed: number;
  /** Stops shipping: the logger writes to its own destination alone again. */
  detach(): void;
}

/**
 * Ships the service's own log lines (at `level` and above) into the log archive as well as to the
 * logger's destination, for LOG_SHIP_TO_ARCHIVE. The logger exists before the app (and so before
 * the archive), so the archive joins afterwards: the logger's destination is swapped for a pino
 * multistream of the old destination and the archive (children share their root's destination).
 *
 * The archive logs too (a failed flush, the store's own debug lines), and shipping those lines
 * would write more lines, forever. Every append runs inside an AsyncLocalStorage context that the
 * archive's batch timers and flushes inherit, and lines logged inside it are not shipped.
 */
export function shipOwnLogs(logger: Logger, archive: Archive, level: Level): ShippedLogs {
  const key = pino.symbols.streamSym as unknown as keyof Logger;
  const original = logger[key] as unknown as pino.DestinationStream;
  const shipping = new AsyncLocalStorage<true>();
  let shipped = 0;
  let failed = 0;
  let failing = false;
  const sink = {
    write(line: string) {
      if (shipping.getStore()) return;
      shipping.run(true, () => {
        shipped++;
        archive.append(OWN_LOGS, [line.trimEnd()]).then(
          () => {
            failing = false;
          },
          (err: unknown) => {
            failed++;
            // Logged in the shipping context (so to stdout only), once per run of failures.
            if (!failing) logger.warn({ err }, "shipping the service's own logs to the archive failed");
            failing = true;
          },
        );
      });
    },
  };
  const tee = pino.multistream([
    { level: "trace", stream: original },
    { level, stream: sink },
  ]);
  (logger as unknown as Record<symbol, unknown>)[pino.symbols.streamSym] = tee;
  return {
    get shipped() {
      return shipped;
    },
    get failed() {
      return failed;
    },
    detach() {
      (logger as unknown as Record<symbol, unknown>)[pino.symbols.streamSym] = original;
    },
  };
}
