/**
 * Part-sized buffers reused across uploads. A new 16 MiB buffer per part lives as long as its
 * upload request, long enough for V8 to move it to the old generation, where only a full
 * collection of the whole heap frees it: at a few hundred MiB/s that was a full collection every
 * few parts. A buffer given back is handed to the next part instead. Spares beyond one upload's
 * worth are dropped at once, and the rest after a quiet spell, so an idle service gives the memory
 * back.
 */
export class PartBuffers {
  readonly size: number;
  readonly #maxSpare: number;
  readonly #idleMs: number;
  #spare: Buffer[] = [];
  #timer: NodeJS.Timeout | undefined;

  constructor(size: number, maxSpare: number, idleMs = 30_000) {
    this.size = size;
    this.#maxSpare = maxSpare;
    this.#idleMs = idleMs;
  }

  take(): Buffer {
    return this.#spare.pop() ?? Buffer.allocUnsafeSlow(this.size);
  }

  /** Back for reuse: the caller must hold no view of it any more (its request has settled). */
  give(buffer: Buffer): void {
    if (buffer.length !== this.size || this.#spare.length >= this.#maxSpare) return;
    this.#spare.push(buffer);
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => {
      this.#spare = [];
    }, this.#idleMs).unref();
  }

  /** Buffers waiting for reuse (for tests). */
  get spare(): number {
    return this.#spare.length;
  }
}
