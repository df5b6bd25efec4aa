import { setTimeout as sleep } from "node:timers/promises";
import type { Logger } from "../../log.ts";
import type { AlertEvent } from "./types.ts";

export interface WebhookOptions {
  url: string;
  timeoutSeconds: number;
  /** Attempts after the first one, each after a longer pause (exponential backoff). */
  retries: number;
  logger: Logger;
  onFailure: () => void;
  /** Events waiting at most; a newer event beyond it is dropped (and counted as a failure). */
  queueSize?: number;
  /** First pause between attempts (ms); doubled each time, capped at MAX_BACKOFF_MS. */
  backoffMs?: number;
}

const MAX_BACKOFF_MS = 60_000;
const CLOSE_GRACE_MS = 5_000;

/**
 * Posts alert events as JSON to ALERT_WEBHOOK_URL in the background, one at a time, in order.
 * Nothing waits for it: enqueue() returns at once, the queue is bounded, and every attempt has a
 * timeout, so a webhook that fails or hangs costs a few sockets, never storage traffic.
 */
export class WebhookSender {
  readonly #o: WebhookOptions;
  readonly #queue: AlertEvent[] = [];
  readonly #stop = new AbortController();
  #running: Promise<void> | undefined;

  constructor(options: WebhookOptions) {
    this.#o = options;
  }

  /** Events waiting or being delivered. */
  get pending(): number {
    return this.#queue.length;
  }

  enqueue(event: AlertEvent): void {
    if (this.#stop.signal.aborted) return;
    if (this.#queue.length >= (this.#o.queueSize ?? 100)) {
      this.#o.onFailure();
      this.#o.logger.warn(
        { alert: event.alert, state: event.state },
        "alert webhook queue full: event dropped",
      );
      return;
    }
    this.#queue.push(event);
    this.#running ??= this.#drain().finally(() => {
      this.#running = undefined;
    });
  }

  /**
   * Stops delivering. Events still queued get a short grace (one attempt's timeout, at most
   * CLOSE_GRACE_MS: a one-shot `alerts check` closes right after queuing); then the attempt in
   * flight is aborted and what is left is dropped (and logged).
   */
  async close(): Promise<void> {
    const running = this.#running;
    if (running) {
      const grace = Math.min(this.#o.timeoutSeconds * 1000, CLOSE_GRACE_MS);
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([running, new Promise<void>((r) => (timer = setTimeout(r, grace)))]);
      clearTimeout(timer);
    }
    this.#stop.abort();
    const dropped = this.#queue.length;
    await this.#running;
    if (dropped > 0)
      this.#o.logger.warn({ dropped }, "alert webhook: undelivered events dropped at shutdown");
  }

  async #drain(): Promise<void> {
    while (this.#queue.length > 0 && !this.#stop.signal.aborted) {
      const event = this.#queue[0] as AlertEvent;
      await this.#deliver(event);
      this.#queue.shift();
    }
  }

  async #deliver(event: AlertEvent): Promise<void> {
    const body = JSON.stringify(event);
    for (let attempt = 0; attempt <= this.#o.retries; attempt++) {
      if (attempt > 0) {
        const pause = Math.min(MAX_BACKOFF_MS, (this.#o.backoffMs ?? 1000) * 2 ** (attempt - 1));
        try {
          await sleep(pause, undefined, { signal: this.#stop.signal });
        } catch {
          return; // closing
        }
      }
      try {
        const res = await fetch(this.#o.url, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body,
          signal: AbortSignal.any([this.#stop.signal, AbortSignal.timeout(this.#o.timeoutSeconds * 1000)]),
        });
        await res.body?.cancel();
        if (res.ok) return;
        this.#fail(event, attempt, `HTTP ${res.status}`);
      } catch (err) {
        if (this.#stop.signal.aborted) return;
        this.#fail(
          event,
          attempt,
          (err as Error).name === "TimeoutError" ? "timed out" : (err as Error).message,
        );
      }
    }
    this.#o.logger.error({ alert: event.alert, state: event.state }, "alert webhook: giving up on the event");
  }

  #fail(event: AlertEvent, attempt: number, why: string): void {
    this.#o.onFailure();
    // The URL may carry a token in its query: it stays out of the log line.
    this.#o.logger.warn(
      { alert: event.alert, state: event.state, attempt: attempt + 1, why },
      "alert webhook failed",
    );
  }
}
