import { SingleBar } from "cli-progress";
import { formatBytes } from "../config/size.ts";

/** Receives cumulative byte counts; finish() removes the bar (call it on success and failure). */
export interface Progress {
  update(bytes: number): void;
  finish(): void;
}

const NO_PROGRESS: Progress = { update: () => {}, finish: () => {} };

/**
 * The bar is for a person watching a terminal: only when stdout is a TTY and the output is not
 * JSON, drawn on stderr so it never mixes with results. Anything else gets a no-op.
 */
export function shouldShowProgress(options: { json: boolean; stdout?: { isTTY?: boolean } }): boolean {
  return !options.json && options.stdout?.isTTY === true;
}

export function mibPerSecond(bytes: number, elapsedMs: number): string {
  if (elapsedMs <= 0) return "0.0";
  return (bytes / (1024 * 1024) / (elapsedMs / 1000)).toFixed(1);
}

export function startProgress(
  enabled: boolean,
  label: string,
  total: number | undefined,
  stream: NodeJS.WritableStream = process.stderr,
): Progress {
  if (!enabled || total === undefined) return NO_PROGRESS;
  const bar = new SingleBar({
    stream,
    format: `${label} [{bar}] {percentage}% | {done}/{size} | {speed} MiB/s | ETA {eta_formatted}`,
    barsize: 30,
    hideCursor: true,
    clearOnComplete: true,
    etaBuffer: 50,
  });
  const started = Date.now();
  const payload = (bytes: number) => ({
    done: formatBytes(bytes),
    size: formatBytes(total),
    speed: mibPerSecond(bytes, Date.now() - started),
  });
  bar.start(Math.max(total, 1), 0, payload(0));
  let stopped = false;
  return {
    update(bytes) {
      if (!stopped) bar.update(Math.min(bytes, total), payload(bytes));
    },
    finish() {
      if (stopped) return;
      stopped = true;
      bar.stop();
    },
  };
}
