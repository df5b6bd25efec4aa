import { Transform, type TransformCallback } from "node:stream";
import { StorageError } from "../errors.ts";
import type { ExecutableScanner } from "./executable-scan.ts";
import { streamed } from "./scavenge-pacer.ts";
import { type HashOptions, StreamingSha256, verifyOnThread } from "./sha256.ts";

export interface IngestLimits {
  maxBytes: number;
  /** The error for crossing maxBytes (default: a TOO_LARGE naming the bytes). */
  tooLarge?: () => StorageError;
  expectedSize?: number;
  expectedSha256?: string;
  /** Runs once, when more than `afterBytes` have passed; an error it returns fails the stream. */
  checkpoint?: { afterBytes: number; run(): StorageError | undefined };
}

/**
 * The single pass every uploaded byte makes: it hashes with sha256, counts, and fails the stream
 * (so the backend discards the upload) as soon as the size limit is crossed or a hidden executable
 * is found, or, at the end, when the expected size or checksum does not match or the tail hides an
 * executable. Failing before end-of-stream (in _flush at the latest) is what keeps refused uploads
 * from being committed: both backends commit only after the body has ended cleanly.
 */
export class IngestGuard extends Transform {
  readonly #hash: StreamingSha256;
  readonly #limits: IngestLimits;
  #checkpoint: IngestLimits["checkpoint"];
  readonly #scanner: ExecutableScanner | undefined;
  #bytes = 0;
  #sha256: string | undefined;

  constructor(limits: IngestLimits, scanner?: ExecutableScanner, hashing: HashOptions = {}) {
    super({ highWaterMark: 1024 * 1024 });
    this.#hash = new StreamingSha256(hashing);
    this.#limits = limits;
    this.#checkpoint = limits.checkpoint;
    this.#scanner = scanner;
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
    streamed(chunk.length);
    const { maxBytes, expectedSize } = this.#limits;
    if (this.#bytes > maxBytes) {
      callback(
        this.#limits.tooLarge?.() ??
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
    const checkpoint = this.#checkpoint;
    if (checkpoint && this.#bytes > checkpoint.afterBytes) {
      this.#checkpoint = undefined;
      const failure = checkpoint.run();
      if (failure) {
        callback(failure);
        return;
      }
    }
    const refusal = this.#scanner?.update(chunk);
    if (refusal) {
      callback(refusal);
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
    const refusal = this.#scanner?.finish();
    if (refusal) {
      callback(refusal);
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

  override _destroy(err: Error | null, callback: (error: Error | null) => void): void {
    // A refused or abandoned upload never reaches digest(): give the hash's worker job back.
    this.#hash.dispose();
    callback(err);
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

/**
 * Pass-through that verifies a full download against its recorded sha256 and size.
 *
 * It holds back the latest chunk until the next one arrives, and the last one until the digest
 * has been checked: a reader never receives every byte of a corrupted object. Without this, an
 * object small enough to sit in socket buffers reached an HTTP client complete (Content-Length
 * satisfied, a clean 200) before the check could fail it. One chunk (at most the source's chunk
 * size) is the only extra memory.
 */
export class VerifyingStream extends Transform {
  readonly #hash: StreamingSha256;
  readonly #expected: { sha256: string; size: number; bucket: string; key: string };
  #bytes = 0;
  #held: Buffer | undefined;

  constructor(
    expected: { sha256: string; size: number; bucket: string; key: string },
    hashing: HashOptions = {},
  ) {
    super({ highWaterMark: 1024 * 1024 });
    this.#hash = new StreamingSha256({ thread: hashing.thread ?? verifyOnThread(expected.size) });
    this.#expected = expected;
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.#bytes += chunk.length;
    streamed(chunk.length);
    const previous = this.#held;
    this.#held = chunk;
    const wait = this.#hash.update(chunk);
    if (previous === undefined) {
      if (wait) wait.then(() => callback(), callback);
      else callback();
      return;
    }
    passOn(wait, previous, callback);
  }

  override _flush(callback: TransformCallback): void {
    this.#hash.digest().then((digest) => this.#finish(digest, callback), callback);
  }

  override _destroy(err: Error | null, callback: (error: Error | null) => void): void {
    this.#held = undefined;
    // A download cut short (reader gone, source failed) never reaches digest(): give the job back.
    this.#hash.dispose();
    callback(err);
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
    const last = this.#held;
    this.#held = undefined;
    callback(null, last);
  }
}
