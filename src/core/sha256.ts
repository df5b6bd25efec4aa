import { createHash, type Hash } from "node:crypto";
import { availableParallelism } from "node:os";
import { Worker } from "node:worker_threads";

/**
 * sha256 that runs beside the event loop. Hashing costs about as much CPU as moving the bytes, and
 * the event loop is what limits throughput, so large streams are hashed on a worker thread: the
 * loop only copies each chunk into a 1 MiB batch and posts it (transferred, not cloned). Small
 * objects never leave the loop: the first MiB is kept and hashed inline if the stream ends there.
 *
 * On two cores or fewer the worker only competes with the event loop and the object store for the
 * same CPUs, and the batch copies cost more than they save (measured: 1 GiB upload 0.80 -> 0.88 of
 * direct when hashing inline), so there the hash runs inline on the loop.
 *
 * A hash holds a job on both sides of the thread, a batch buffer and (while its job lives) a ref on
 * the worker that keeps the process alive. A digest releases them; a hash that will never get one
 * (a failed or abandoned transfer) must be given back with dispose(), or the process cannot exit.
 */

/** Default for uploads: a hashing thread only when there is a core to spare for it. */
const THREAD_BY_DEFAULT = availableParallelism() > 2;

/** Downloads at least this large are verified on the thread by default (smaller ones never leave the loop). */
const VERIFY_ON_THREAD_FROM = 8 * 1024 * 1024;
const VERIFY_THREAD_BY_DEFAULT = availableParallelism() >= 2;

/**
 * Whether to verify a download of `size` bytes on the worker thread when the operator left it to us.
 * Unlike an upload, where the object store's own work fills both cores, a verified download leaves
 * the event loop as the only busy thread (the store serves a GET cheaply), so even two cores have
 * room: with the hash moved off the loop, a 512 MiB download over HTTP measured 12 % faster in 4 of 4
 * alternating runs on two cores (median 590 against 528 MiB/s), at 0.2-0.3 CPU-s/GiB more in batch
 * copies and hand-offs (docs/benchmarks.md).
 */
export function verifyOnThread(size: number): boolean {
  return size >= VERIFY_ON_THREAD_FROM && VERIFY_THREAD_BY_DEFAULT;
}

const BATCH = 1024 * 1024;
/** Bytes posted but not yet hashed before `update` asks the caller to wait. */
const MAX_IN_FLIGHT = 8 * BATCH;
/** Hashed batches come back from the worker and are reused, so memory stays flat (no churn for GC). */
const spare: ArrayBuffer[] = [];
const MAX_SPARE = 16;
const takeBatch = () => {
  const reused = spare.pop();
  return reused ? Buffer.from(reused) : Buffer.allocUnsafeSlow(BATCH);
};
/** What #batch holds when there is no batch of ours (inline, released, or posted without a successor). */
const NO_BATCH: Buffer<ArrayBuffer> = Buffer.alloc(0);

const WORKER_SOURCE = `
import { parentPort } from "node:worker_threads";
import { createHash } from "node:crypto";
const jobs = new Map();
parentPort.on("message", (m) => {
  if (m.drop) { jobs.delete(m.id); return; }
  if (m.count) { parentPort.postMessage({ live: jobs.size }); return; }
  let hash = jobs.get(m.id);
  if (!hash) { hash = createHash("sha256"); jobs.set(m.id, hash); }
  if (m.data) {
    hash.update(new Uint8Array(m.data, 0, m.length));
    parentPort.postMessage({ id: m.id, ack: m.length, data: m.data }, [m.data]);
  }
  if (m.done) { jobs.delete(m.id); parentPort.postMessage({ id: m.id, hex: hash.digest("hex") }); }
});
`;

interface Job {
  onAck(bytes: number): void;
  onDigest(hex: string): void;
  onFail(err: Error): void;
}

interface Count {
  resolve(live: number): void;
  reject(err: Error): void;
}

let worker: Worker | undefined;
let nextId = 1;
const jobs = new Map<number, Job>();
/** liveHashJobs() questions waiting for the worker's answer, in the order they were asked. */
const counts: Count[] = [];

interface Reply {
  id?: number;
  ack?: number;
  hex?: string;
  data?: ArrayBuffer;
  live?: number;
}

function sharedWorker(): Worker {
  if (worker) return worker;
  // An ES module from a data: URL, with no inherited flags: the same code whatever started the process.
  const w = new Worker(new URL(`data:text/javascript,${encodeURIComponent(WORKER_SOURCE)}`), {
    execArgv: [],
  });
  w.on("message", (m: Reply) => {
    if (m.data && spare.length < MAX_SPARE) spare.push(m.data);
    if (m.live !== undefined) {
      counts.shift()?.resolve(m.live);
      holdWhileBusy();
      return;
    }
    const job = m.id === undefined ? undefined : jobs.get(m.id);
    if (!job || m.id === undefined) return;
    if (m.ack !== undefined) job.onAck(m.ack);
    if (m.hex !== undefined) {
      untrack(m.id);
      job.onDigest(m.hex);
    }
  });
  w.on("error", (err) => {
    // Should never happen; fail every hash in progress rather than leave a caller waiting.
    worker = undefined;
    const failed = [...jobs.values()];
    jobs.clear();
    for (const job of failed) job.onFail(err);
    for (const count of counts.splice(0)) count.reject(err);
  });
  // Last (adding a "message" listener refs it): idle, the worker must not keep the process alive.
  w.unref();
  worker = w;
  return w;
}

/** While a hash (or a count) waits on the worker, the worker keeps the process alive; idle, it does not. */
function holdWhileBusy(): void {
  if (jobs.size > 0 || counts.length > 0) worker?.ref();
  else worker?.unref();
}

function track(id: number, job: Job): void {
  jobs.set(id, job);
  holdWhileBusy();
}

function untrack(id: number): void {
  jobs.delete(id);
  holdWhileBusy();
}

/**
 * Test hook: hashes that hold a job on the event loop's side, and jobs the worker still keeps (0
 * when it was never started). Both return to 0 once every hash has been digested or disposed.
 */
export async function liveHashJobs(): Promise<{ loop: number; worker: number }> {
  const loop = jobs.size;
  const w = worker;
  if (!w) return { loop, worker: 0 };
  const live = new Promise<number>((resolve, reject) => counts.push({ resolve, reject }));
  holdWhileBusy();
  w.postMessage({ count: true });
  return { loop, worker: await live };
}

export interface HashOptions {
  /** Hash on the shared worker thread; unset: only with more than two cores. */
  thread?: boolean | undefined;
}

export class StreamingSha256 {
  /** Set when hashing inline on the event loop; then the batch fields below stay unused. */
  readonly #inline: Hash | undefined;
  #batch: Buffer<ArrayBuffer>;
  #filled = 0;
  #id: number | undefined;
  #inFlight = 0;
  #drained: { resume(): void; abandon(err: Error): void } | undefined;
  #digest: Promise<string> | undefined;
  #resolveDigest: ((hex: string) => void) | undefined;
  #rejectDigest: ((err: Error) => void) | undefined;
  #failure: Error | undefined;
  #disposed = false;

  constructor(options: HashOptions = {}) {
    const thread = options.thread ?? THREAD_BY_DEFAULT;
    this.#inline = thread ? undefined : createHash("sha256");
    this.#batch = thread ? takeBatch() : NO_BATCH;
  }

  /** Adds bytes; resolves at once unless too much is waiting for the worker (then when it caught up). */
  update(chunk: Uint8Array): Promise<void> | undefined {
    if (this.#disposed) throw new Error("StreamingSha256: update() after dispose()");
    if (this.#digest) throw new Error("StreamingSha256: update() after digest()");
    if (this.#inline) {
      this.#inline.update(chunk);
      return undefined;
    }
    let offset = 0;
    while (offset < chunk.length) {
      if (this.#filled === BATCH) this.#post(false);
      const n = Math.min(BATCH - this.#filled, chunk.length - offset);
      this.#batch.set(chunk.subarray(offset, offset + n), this.#filled);
      this.#filled += n;
      offset += n;
    }
    if (this.#inFlight <= MAX_IN_FLIGHT) return undefined;
    return new Promise<void>((resume, abandon) => {
      this.#drained = { resume, abandon };
    });
  }

  /** Hex digest of everything added. Once it is known, everything the hash held is released. */
  digest(): Promise<string> {
    if (this.#digest) return this.#digest;
    if (this.#disposed) throw new Error("StreamingSha256: digest() after dispose()");
    if (this.#inline) {
      this.#digest = Promise.resolve(this.#inline.digest("hex"));
    } else if (this.#id === undefined) {
      // Never left the event loop: a small object.
      const hex = createHash("sha256").update(this.#batch.subarray(0, this.#filled)).digest("hex");
      this.#giveBackBatch();
      this.#digest = Promise.resolve(hex);
    } else {
      this.#digest = new Promise<string>((resolve, reject) => {
        this.#resolveDigest = resolve;
        this.#rejectDigest = reject;
        if (this.#failure) reject(this.#failure);
      });
      this.#post(true);
    }
    return this.#digest;
  }

  /**
   * Gives everything back (the job on both sides of the thread, the batch, the worker's hold on the
   * process) for a hash that will not be digested: a failed or abandoned transfer. A pending
   * digest() or update() rejects. Safe to call more than once, and after digest().
   */
  dispose(): void {
    if (this.#disposed) return;
    this.#disposed = true;
    this.#giveBackBatch();
    const id = this.#id;
    if (id !== undefined && jobs.has(id)) {
      untrack(id);
      // Messages keep their order, so every batch posted before this is hashed (and its buffer
      // comes back) before the worker forgets the job.
      worker?.postMessage({ id, drop: true });
    }
    // Only a pending digest() or update() needs the error: building one (with its stack) on every
    // normal disposal showed up in the GET profile.
    if (!this.#rejectDigest && !this.#drained) return;
    const gone = new Error("StreamingSha256: disposed");
    this.#rejectDigest?.(gone);
    this.#rejectDigest = undefined;
    this.#drained?.abandon(gone);
    this.#drained = undefined;
  }

  #giveBackBatch(): void {
    if (this.#batch !== NO_BATCH && spare.length < MAX_SPARE) spare.push(this.#batch.buffer);
    this.#batch = NO_BATCH;
    this.#filled = 0;
  }

  #post(done: boolean): void {
    // The worker died and the digest has failed: posting to its successor would only leave a job there.
    if (this.#failure) {
      this.#filled = 0;
      return;
    }
    const w = sharedWorker();
    if (this.#id === undefined) {
      this.#id = nextId++;
      track(this.#id, {
        onAck: (bytes) => {
          this.#inFlight -= bytes;
          if (this.#inFlight <= MAX_IN_FLIGHT / 2 && this.#drained) {
            const { resume } = this.#drained;
            this.#drained = undefined;
            resume();
          }
        },
        onDigest: (hex) => {
          this.#resolveDigest?.(hex);
          this.#rejectDigest = undefined;
        },
        onFail: (err) => {
          this.#failure = err;
          this.#rejectDigest?.(err);
          this.#rejectDigest = undefined;
          this.#drained?.resume();
          this.#drained = undefined;
        },
      });
    }
    if (this.#filled === 0) {
      w.postMessage({ id: this.#id, done });
      if (done) this.#giveBackBatch();
      return;
    }
    // The batch's memory moves to the worker (no copy); a fresh one takes its place unless this was the last.
    const data = this.#batch.buffer;
    this.#inFlight += this.#filled;
    w.postMessage({ id: this.#id, data, length: this.#filled, done }, [data]);
    this.#batch = done ? NO_BATCH : takeBatch();
    this.#filled = 0;
  }
}
