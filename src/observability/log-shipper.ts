import { Writable } from "node:stream";

/**
 * A pino destination that ships log lines to the log archive of a lumenslate-storage service
 * (POST /v1/logs/{service}/append), so a service's own logs, or any Node service's on the
 * platform, land in the `logs` bucket: `pino(options, createLogShipper({...}))`, or beside stdout
 * with `pino.multistream`. Lines are batched (`maxLines` or `intervalMs`) and sent one request at a
 * time in order; `end()` (or `flush()`) sends what is left. A failed request is retried with the next
 * batch; past `maxPendingLines` the oldest lines are dropped (and counted) rather than growing
 * memory without bound while the service is down. Imports nothing from the server.
 */

export interface LogShipperOptions {
  /** The service's base URL, e.g. http://storage:8080 */
  endpoint: string;
  /** An API key with `write` on the logs bucket at `{service}/`. */
  token: string;
  /** The archive's service name the lines are filed under. */
  service: string;
  /** The archive's file name (default "app"). */
  filename?: string;
  maxLines?: number;
  intervalMs?: number;
  maxPendingLines?: number;
  /** Called with each failed request's error (default: ignored; the lines are retried). */
  onError?: (err: Error) => void;
}

export interface LogShipper extends Writable {
  /** Sends every waiting line now; rejects if the service refused or could not be reached. */
  flush(): Promise<void>;
  /** Lines dropped because too many were waiting. */
  readonly dropped: number;
}

export function createLogShipper(options: LogShipperOptions): LogShipper {
  const maxLines = Math.min(options.maxLines ?? 500, 10_000);
  const maxPending = options.maxPendingLines ?? 100_000;
  const url = `${options.endpoint.replace(/\/$/, "")}/v1/logs/${encodeURIComponent(options.service)}/append`;
  let pending: string[] = [];
  let partial = "";
  let dropped = 0;
  let sending: Promise<void> = Promise.resolve();
  let timer: NodeJS.Timeout | undefined;

  async function post(lines: string[]): Promise<void> {
    const res = await fetch(url, {
      method: "POST",
      headers: { authorization: `Bearer ${options.token}`, "content-type": "application/json" },
      body: JSON.stringify({ lines, ...(options.filename ? { filename: options.filename } : {}) }),
    });
    if (!res.ok) throw new Error(`log archive answered ${res.status}: ${(await res.text()).slice(0, 200)}`);
  }

  /** Sends the waiting lines, batch by batch, after whatever is being sent. */
  function send(): Promise<void> {
    clearTimeout(timer);
    timer = undefined;
    sending = sending.then(async () => {
      while (pending.length > 0) {
        const batch = pending.slice(0, maxLines);
        await post(batch);
        pending = pending.slice(batch.length);
      }
    });
    const result = sending;
    // The chain must not stay rejected: the next send retries the lines still waiting.
    sending = sending.catch((err: Error) => options.onError?.(err));
    return result;
  }

  const stream = new Writable({
    decodeStrings: false,
    write(chunk: string | Buffer, _encoding, callback) {
      const text = partial + chunk.toString();
      const lines = text.split("\n");
      partial = lines.pop() ?? "";
      pending.push(...lines.filter((l) => l.length > 0));
      if (pending.length > maxPending) {
        dropped += pending.length - maxPending;
        pending = pending.slice(pending.length - maxPending);
      }
      if (pending.length >= maxLines) send().catch(() => {});
      else if (!timer && pending.length > 0) {
        timer = setTimeout(() => send().catch(() => {}), options.intervalMs ?? 2000);
        timer.unref();
      }
      callback();
    },
    final(callback) {
      if (partial) pending.push(partial);
      partial = "";
      send().then(
        () => callback(),
        (err: Error) => callback(err),
      );
    },
  });
  return Object.assign(stream, {
    flush: () => send(),
    get dropped() {
      return dropped;
    },
  }) as LogShipper;
}
