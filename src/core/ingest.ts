import { Transform, type TransformCallback } from "node:stream";
import { StorageError } from "../errors.ts";
import { StreamingSha256 } from "./sha256.ts";

export interface IngestLimits {
  maxBytes: number;
  expectedSize?: number;
  expectedSha256?: string;
}

/**
 * The single pass every uploaded byte makes: it hashes with sha256, counts, and fails the stream
 * (so the backend discards the upload) as soon as the size limit is crossed or, at the end, when the
 * expected size or checksum does not match. Failing before end-of-stream is what keeps refused
 * uploads from being committed.
 */
export class IngestGuard extends Transform {
  readonly #hash = new StreamingSha256();
  readonly #limits: IngestLimits;
  #bytes = 0;
  #sha256: string | undefined;

  constructor(limits: IngestLimits) {
    super({ highWaterMark: 1024 * 1024 });
    this.#limits = limits;
  }

  get bytes(): number {
    return this.#bytes;
  }

  /** Hex sha256 of everything that passed; available after the stream finished. */
  get sha256(): string {
    if (this.#sha256 === undefined) throw new Error("sha256 is known only after the stream ends");
    return this.#sha256;
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.#bytes += chunk.length;
    const { maxBytes, expectedSize } = this.#limits;
    if (this.#bytes > maxBytes) {
      callback(
        new StorageError("TOO_LARGE", `The object is larger than the limit of ${maxBytes} bytes.`, {
          limit: maxBytes,
        }),
      );
      return;
    }
    if (expectedSize !== undefined && this.#bytes > expectedSize) {
      callback(sizeMismatch(expectedSize, `more than ${expectedSize}`));
      return;
    }
    passOn(this.#hash.update(chunk), chunk, callback);
  }

  override _flush(callback: TransformCallback): void {
    const { expectedSize } = this.#limits;
    if (expectedSize !== undefined && this.#bytes !== expectedSize) {
      callback(sizeMismatch(expectedSize, String(this.#bytes)));
      return;
    }
    this.#hash.digest().then((digest) => this.#finish(digest, callback), callback);
  }

  #finish(digest: string, callback: TransformCallback): void {
    const { expectedSha256 } = this.#limits;
    if (expectedSha256 !== undefined && digest !== expectedSha256.toLowerCase()) {
      callback(
        new StorageError(
          "PRECONDITION_FAILED",
          "The content's sha256 does not match the expected checksum.",
          {
            field: "sha256",
          },
        ),
      );
      return;
    }
    this.#sha256 = digest;
    callback();
  }
}

/** Hands the chunk on now, or once the hasher has caught up (backpressure). */
function passOn(wait: Promise<void> | undefined, chunk: Buffer, callback: TransformCallback): void {
  if (wait) wait.then(() => callback(null, chunk), callback);
  else callback(null, chunk);
}

const sizeMismatch = (expected: number, got: string) =>
  new StorageError("PRECONDITION_FAILED", `The content is ${got} bytes, but ${expected} were announced.`, {
    field: "size",
  });

/** Pass-through that verifies a full download against its recorded sha256 and size. */
export class VerifyingStream extends Transform {
  readonly #hash = new StreamingSha256();
  readonly #expected: { sha256: string; size: number; bucket: string; key: string };
  #bytes = 0;

  constructor(expected: { sha256: string; size: number; bucket: string; key: string }) {
    super({ highWaterMark: 1024 * 1024 });
    this.#expected = expected;
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.#bytes += chunk.length;
    passOn(this.#hash.update(chunk), chunk, callback);
  }

  override _flush(callback: TransformCallback): void {
    this.#hash.digest().then((digest) => this.#finish(digest, callback), callback);
  }

  #finish(digest: string, callback: TransformCallback): void {
    const { sha256, size, bucket, key } = this.#expected;
    if (this.#bytes !== size || digest !== sha256) {
      callback(
        new StorageError(
          "DATA_CORRUPTED",
          "The stored bytes do not match their recorded sha256; the download was cut off.",
          {
            bucket,
            key,
          },
        ),
      );
      return;
    }
    callback();
  }
}
