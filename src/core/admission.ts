import { StorageError } from "../errors.ts";

/**
 * Admission control for uploads: a bound on how many run at once and on the bytes they may hold in
 * memory together (an S3 multipart upload buffers up to part size × queue size before a part is
 * sent). Without it, enough concurrent large uploads exhaust memory long before any other limit
 * applies. A caller beyond either bound is refused at once with OVERLOADED (HTTP 503 with
 * Retry-After, gRPC RESOURCE_EXHAUSTED), rather than queued: a queue would hold its request body
 * and socket open, which is the memory being protected.
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

/** Gives back what an admission reserved; calling it again does nothing. */
export type Release = () => void;

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
  admit(bytes: number): Release {
    const reserve = Math.max(0, Math.ceil(bytes));
    const { maxUploads, maxBufferedBytes, retryAfterSeconds } = this.#limits;
    if (this.#uploads + 1 > maxUploads || this.#buffered + reserve > maxBufferedBytes) {
      this.#refused++;
      const which = this.#uploads + 1 > maxUploads ? "concurrent uploads" : "buffered upload bytes";
      throw new StorageError(
        "OVERLOADED",
        `The service is at its limit of ${which}; retry in ${retryAfterSeconds} s.`,
        { retryAfterSeconds, limit: which === "concurrent uploads" ? maxUploads : maxBufferedBytes },
      );
    }
    this.#uploads++;
    this.#buffered += reserve;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.#uploads--;
      this.#buffered -= reserve;
    };
  }
}
