import type { Logger } from "pino";

/**
 * A background task run every `seconds`, one run at a time (a slow run is not overlapped by the
 * next tick). A failed run is logged and tried again at the next tick. The timer is unref'd: it
 * never keeps a process alive. `seconds` of 0 or less: never run (the task is only on demand).
 */
export class PeriodicTask {
  readonly #name: string;
  readonly #run: () => Promise<void>;
  readonly #log: Logger;
  #timer: NodeJS.Timeout | undefined;
  #running = false;

  constructor(name: string, run: () => Promise<void>, log: Logger) {
    this.#name = name;
    this.#run = run;
    this.#log = log;
  }

  start(seconds: number): void {
    if (seconds <= 0 || this.#timer) return;
    this.#timer = setInterval(() => void this.#tick(), seconds * 1000);
    this.#timer.unref();
  }

  stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }

  async #tick(): Promise<void> {
    if (this.#running) return;
    this.#running = true;
    try {
      await this.#run();
    } catch (err) {
      this.#log.error({ err }, `${this.#name} failed; retrying next interval`);
    } finally {
      this.#running = false;
    }
  }
}
