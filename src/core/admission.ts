import { StorageError } from "../errors.ts";

/**
 * Admission control for uploads: a bound on how many run at once and on the bytes they may hold in
 * memory together (an S3 multipart upload buffers up to part size × queue size before a part is
 * sent). Without it, enough concurrent large uploads exhaust memory long before any other limit
 * applies. A caller beyond either bound is refused at once with OVERLOADED (HTTP 503 with
 * Retry-After, gRPC RESOURCE_EXHAUSTED), rather than queued: a queue would hold its request body
 * and socket open, which is the memory being protected.
 *
 * A reservation can grow: an upload of unknown size first reserves what the store buffers before
 * it knows a body is large (one part), and the rest only once the body proves larger; if the
 * budget is spent by then, that upload fails with OVERLOADED and nothing is stored.
 */

export interface AdmissionLimits {
  /** Uploads allowed at once across all callers and protocols. */
  maxUploads: number;
  /** Bytes that admitted uploads may buffer together. */
  maxBufferedBytes: number;
  /** The retry hint given with a refusal. */
  retryAfterSeconds: number;
}

export interface AdmissionStats {
  uploads: number;
  bufferedBytes: number;
  refused: number;
}

/** What one admitted upload holds: its slot and the bytes reserved for it. */
export interface Reservation {
  /** Reserves up to `bytes` in total for this upload; false (and counted as refused) if over budget. */
  growTo(bytes: number): boolean;
  /** Gives back the slot and everything reserved; calling it again does nothing. */
  release(): void;
}

export class Admission {
  readonly #limits: AdmissionLimits;
  #uploads = 0;
  #buffered = 0;
  #refused = 0;

  constructor(limits: AdmissionLimits) {
    this.#limits = limits;
  }

  get limits(): Readonly<AdmissionLimits> {
    return this.#limits;
  }

  get stats(): AdmissionStats {
    return { uploads: this.#uploads, bufferedBytes: this.#buffered, refused: this.#refused };
  }

  /** Reserves one upload slot and `bytes` of buffer, or throws OVERLOADED. */
  admit(bytes: number): Reservation {
    let reserved = Math.max(0, Math.ceil(bytes));
    const { maxUploads, maxBufferedBytes } = this.#limits;
    if (this.#uploads + 1 > maxUploads) throw this.#refuse("concurrent uploads", maxUploads);
    if (this.#buffered + reserved > maxBufferedBytes)
      throw this.#refuse("buffered upload bytes", maxBufferedBytes);
    this.#uploads++;
    this.#buffered += reserved;
    let released = false;
    return {
      growTo: (total) => {
        const more = Math.ceil(total) - reserved;
        if (released || more <= 0) return true;
        if (this.#buffered + more > maxBufferedBytes) {
          this.#refused++;
          return false;
        }
        this.#buffered += more;
        reserved += more;
        return true;
      },
      release: () => {
        if (released) return;
        released = true;
        this.#uploads--;
        this.#buffered -= reserved;
      },
    };
  }

  /** The refusal of an upload beyond a bound (counted). */
  overloaded(which: "concurrent uploads" | "buffered upload bytes"): StorageError {
    const { maxUploads, maxBufferedBytes } = this.#limits;
    return this.#error(which, which === "concurrent uploads" ? maxUploads : maxBufferedBytes);
  }

  #refuse(which: "concurrent uploads" | "buffered upload bytes", limit: number): StorageError {
    this.#refused++;
    return this.#error(which, limit);
  }

  #error(which: string, limit: number): StorageError {
    const { retryAfterSeconds } = this.#limits;
    return new StorageError(
      "OVERLOADED",
      `The service is at its limit of ${which}; retry in ${retryAfterSeconds} s.`,
      {
        retryAfterSeconds,
        limit,
      },
    );
  }
}
