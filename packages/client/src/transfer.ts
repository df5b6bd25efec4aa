import { createHash, type Hash } from "node:crypto";
import { Transform, type TransformCallback } from "node:stream";
import { status } from "@grpc/grpc-js";
import { clientError } from "./errors.ts";
import type { DownloadFileHeader__Output } from "./generated/lumenslate/storage/v1/DownloadFileHeader.ts";
import type { DownloadFileResponse__Output } from "./generated/lumenslate/storage/v1/DownloadFileResponse.ts";
import type { UploadFileRequest } from "./generated/lumenslate/storage/v1/UploadFileRequest.ts";

/**
 * Byte stream → UploadFile chunk messages of about `chunkSize` bytes: small reads are gathered (fewer
 * messages cost less) and large ones split (the server refuses messages over its size limit). When
 * asked, hashes what it sends, so the stored sha256 can be checked against the bytes that left.
 */
export class ChunkEncoder extends Transform {
  readonly #chunkSize: number;
  readonly #onChunk: ((bytes: number) => void) | undefined;
  readonly #hash: Hash | undefined;
  #sha256: string | undefined;
  #parts: Buffer[] = [];
  #size = 0;

  /** `onChunk` is told the size of every message pushed (for progress). */
  constructor(chunkSize: number, onChunk?: (bytes: number) => void, options: { hash?: boolean } = {}) {
    super({ readableObjectMode: true, readableHighWaterMark: 2 });
    this.#chunkSize = chunkSize;
    this.#onChunk = onChunk;
    this.#hash = options.hash === false ? undefined : createHash("sha256");
  }

  override _transform(chunk: Buffer, _encoding: string, done: TransformCallback): void {
    if (chunk.length > 0) {
      this.#parts.push(chunk);
      this.#size += chunk.length;
      if (this.#size >= this.#chunkSize) this.#flushParts(false);
    }
    done();
  }

  override _flush(done: TransformCallback): void {
    this.#flushParts(true);
    this.#sha256 = this.#hash?.digest("hex");
    done();
  }

  /** sha256 of every byte sent, once the input has ended (undefined before, or when not hashing). */
  get sha256(): string | undefined {
    return this.#sha256;
  }

  #flushParts(all: boolean): void {
    if (this.#size === 0) return;
    const whole =
      this.#parts.length === 1 ? (this.#parts[0] as Buffer) : Buffer.concat(this.#parts, this.#size);
    let at = 0;
    for (; whole.length - at >= this.#chunkSize; at += this.#chunkSize) {
      this.#emit(whole.subarray(at, at + this.#chunkSize));
    }
    if (all && at < whole.length) {
      this.#emit(whole.subarray(at));
      at = whole.length;
    }
    this.#parts = at < whole.length ? [whole.subarray(at)] : [];
    this.#size = whole.length - at;
  }

  #emit(chunk: Buffer): void {
    this.#hash?.update(chunk);
    this.push({ chunk } satisfies UploadFileRequest);
    this.#onChunk?.(chunk.length);
  }
}

/** DATA_CORRUPTED, raised by the client itself (the service did not say so). */
export const corrupted = (message: string, details: Record<string, unknown> = {}, requestId?: string) =>
  clientError("DATA_CORRUPTED", message, { grpcCode: status.DATA_LOSS, details, requestId });

export interface DecodeOptions {
  /** Check a full read against the header's sha256 (default true; ranged reads are never hashed). */
  verify?: boolean;
  onProgress?: (transferred: number, total: number | undefined) => void;
  /** The call's request id, carried by the errors this raises. */
  requestId?: string;
}

/**
 * DownloadFile messages → the object's bytes. The first message must be the header (exposed as
 * `header`). Checks the byte count against the header and, for a full read, the bytes against the
 * sha256 the service recorded: the service checks its store, this checks everything in between.
 */
export class DownloadDecoder extends Transform {
  readonly header: Promise<DownloadFileHeader__Output>;
  #resolve!: (header: DownloadFileHeader__Output) => void;
  #reject!: (err: Error) => void;
  #headerSeen: DownloadFileHeader__Output | undefined;
  #bytes = 0;
  #hash: Hash | undefined;
  readonly #verify: boolean;
  readonly #onProgress: ((transferred: number, total: number | undefined) => void) | undefined;
  readonly #requestId: string | undefined;

  constructor(options: DecodeOptions = {}) {
    super({ writableObjectMode: true, writableHighWaterMark: 2, readableHighWaterMark: 1024 * 1024 });
    this.#verify = options.verify !== false;
    this.#onProgress = options.onProgress;
    this.#requestId = options.requestId;
    this.header = new Promise((resolve, reject) => {
      this.#resolve = resolve;
      this.#reject = reject;
    });
    this.header.catch(() => {});
  }

  override _transform(
    message: DownloadFileResponse__Output,
    _encoding: string,
    done: TransformCallback,
  ): void {
    if (!this.#headerSeen) {
      if (message.payload !== "header" || !message.header) {
        done(corrupted("The download did not start with a header.", {}, this.#requestId));
        return;
      }
      const header = message.header;
      this.#headerSeen = header;
      if (this.#verify && !header.range && header.file?.sha256) this.#hash = createHash("sha256");
      this.#resolve(header);
      done();
      return;
    }
    const chunk = message.chunk;
    if (message.payload !== "chunk" || !chunk) {
      done(corrupted("The download carried a second header.", {}, this.#requestId));
      return;
    }
    this.#bytes += chunk.length;
    this.#hash?.update(chunk);
    if (chunk.length > 0) this.#onProgress?.(this.#bytes, this.#headerSeen.contentLength);
    done(null, chunk.length > 0 ? chunk : undefined);
  }

  override _flush(done: TransformCallback): void {
    const header = this.#headerSeen;
    if (!header) {
      done(corrupted("The download ended without a header.", {}, this.#requestId));
      return;
    }
    const where = { bucket: header.file?.bucket, objectName: header.file?.objectName };
    if (this.#bytes !== header.contentLength) {
      const message = `The download carried ${this.#bytes} bytes, not the announced ${header.contentLength}.`;
      done(corrupted(message, where, this.#requestId));
      return;
    }
    const recorded = header.file?.sha256;
    const digest = this.#hash?.digest("hex");
    if (digest !== undefined && digest !== recorded) {
      done(
        corrupted(
          `The downloaded bytes have sha256 ${digest}, not the ${recorded} the service recorded: they changed on the way or in the store; do not use them.`,
          { ...where, sha256: recorded },
          this.#requestId,
        ),
      );
      return;
    }
    done();
  }

  override _destroy(err: Error | null, done: (err?: Error | null) => void): void {
    this.#reject(err ?? clientError("CANCELLED", "The download was closed.", { grpcCode: status.CANCELLED }));
    done(err);
  }
}
