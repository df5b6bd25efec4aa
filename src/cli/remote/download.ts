import { createHash } from "node:crypto";
import { Readable, Transform, type TransformCallback } from "node:stream";
import type { ReadableStream as WebReadableStream } from "node:stream/web";
import { asStorageError, isAbortError, StorageError } from "../../errors.ts";

/**
 * A download's body as a Node stream that fails (and so leaves no file behind: get writes to a temp
 * file renamed only at the end) when the bytes are not the ones announced: a different length, or,
 * for a full read, a sha256 other than the service's `x-checksum-sha256`. The service checks the
 * same on its side, but only the client can see what actually arrived.
 */
class VerifyingBody extends Transform {
  readonly #hash = createHash("sha256");
  readonly #expected: { sha256?: string | undefined; length: number; what: string };
  #length = 0;

  constructor(expected: { sha256?: string | undefined; length: number; what: string }) {
    super();
    this.#expected = expected;
  }

  override _transform(chunk: Buffer, _encoding: string, done: TransformCallback): void {
    this.#length += chunk.length;
    if (this.#expected.sha256) this.#hash.update(chunk);
    done(null, chunk);
  }

  override _flush(done: TransformCallback): void {
    const { sha256, length, what } = this.#expected;
    if (this.#length !== length) {
      done(
        new StorageError(
          "UNAVAILABLE",
          `${what}: the connection ended after ${this.#length} of ${length} bytes.`,
        ),
      );
      return;
    }
    const actual = sha256 ? this.#hash.digest("hex") : undefined;
    if (sha256 && actual !== sha256.toLowerCase()) {
      done(
        new StorageError("DATA_CORRUPTED", `${what}: the bytes received do not match the object's sha256.`, {
          expected: sha256,
          actual: actual ?? "",
        }),
      );
      return;
    }
    done();
  }
}

/**
 * `sha256` undefined: only the length is checked (ranged reads, objects not indexed). A failure of
 * the connection itself becomes UNAVAILABLE rather than an anonymous library error.
 */
export function verifiedBody(
  body: ReadableStream<Uint8Array>,
  expected: { sha256?: string | undefined; length: number; what: string },
): Readable {
  const source = Readable.fromWeb(body as WebReadableStream<Uint8Array>);
  const verifier = new VerifyingBody(expected);
  source.once("error", (err) =>
    verifier.destroy(
      err instanceof StorageError || isAbortError(err)
        ? asStorageError(err)
        : new StorageError("UNAVAILABLE", `${expected.what}: the connection was lost.`, {}, { cause: err }),
    ),
  );
  // Whoever stops reading early (an aborted get, `| head`) releases the connection too.
  verifier.once("close", () => source.destroy());
  return source.pipe(verifier);
}
