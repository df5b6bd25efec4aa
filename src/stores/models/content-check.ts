import { createHash, type Hash } from "node:crypto";
import { Transform, type TransformCallback } from "node:stream";
import { StorageError } from "../../errors.ts";

/**
 * Hashes and counts the content as it passes (before compression on the way in, after
 * decompression on the way out), so a blob is named and checked by the sha256 of its real bytes.
 * With expectations it fails at the end, before whatever reads it can commit or finish: on the
 * way in the object store never sees an end of body, on the way out the reader never sees a clean
 * end of the file. With `holdLast` (downloads) the latest chunk waits for the next one, and the
 * last for the check, as the core's VerifyingStream does: a small corrupted file must not reach an
 * HTTP client whole (Content-Length satisfied) before the check fails it.
 */
export class ContentCheck extends Transform {
  readonly #hash: Hash = createHash("sha256");
  readonly #expected: { sha256?: string; size?: number };
  readonly #failure: (message: string, details: Record<string, string | number>) => StorageError;
  readonly #holdLast: boolean;
  #held: Buffer | undefined;
  bytes = 0;
  sha256 = "";

  constructor(
    expected: { sha256?: string; size?: number },
    failure: (message: string, details: Record<string, string | number>) => StorageError,
    options: { holdLast?: boolean } = {},
  ) {
    super({ highWaterMark: 1024 * 1024 });
    this.#expected = expected;
    this.#failure = failure;
    this.#holdLast = options.holdLast === true;
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    this.bytes += chunk.length;
    const { size } = this.#expected;
    if (size !== undefined && this.bytes > size) {
      done(this.#failure(`The content is longer than its declared ${size} bytes.`, { field: "size", size }));
      return;
    }
    this.#hash.update(chunk);
    if (!this.#holdLast) {
      done(null, chunk);
      return;
    }
    const previous = this.#held;
    this.#held = chunk;
    done(null, previous);
  }

  override _flush(done: TransformCallback): void {
    this.sha256 = this.#hash.digest("hex");
    const { size, sha256 } = this.#expected;
    if (size !== undefined && this.bytes !== size) {
      done(
        this.#failure(`The content is ${this.bytes} bytes, not the declared ${size}.`, {
          field: "size",
          size,
        }),
      );
      return;
    }
    if (sha256 !== undefined && this.sha256 !== sha256) {
      done(
        this.#failure(`The content's sha256 is ${this.sha256}, not ${sha256}.`, { field: "sha256", sha256 }),
      );
      return;
    }
    const held = this.#held;
    this.#held = undefined;
    done(null, held);
  }
}

/** On upload, a body that is not what the caller declared. */
export const declaredMismatch = (message: string, details: Record<string, string | number>) =>
  new StorageError("PRECONDITION_FAILED", message, details);
