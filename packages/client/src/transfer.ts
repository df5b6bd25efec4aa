import { createHash, type Hash } from "node:crypto";
import { Transform, type TransformCallback } from "node:stream";
import { status } from "@grpc/grpc-js";
import { clientError } from "./errors.ts";
import type { DownloadFileHeader__Output } from "./generated/lumenslate/storage/v1/DownloadFileHeader.ts";
import type { DownloadFileResponse__Output } from "./generated/lumenslate/storage/v1/DownloadFileResponse.ts";
import type { UploadFileRequest } from "./generated/lumenslate/storage/v1/UploadFileRequest.ts";

/**
 * Byte stream → UploadFile chunk messages of about `chunkSize` bytes: small reads are gathered (fewer
 * messages cost less) and large ones split (the server refuses messages over its size limit).
 */
export class ChunkEncoder extends Transform {
  readonly #chunkSize: number;
  readonly #onChunk: ((bytes: number) => void) | undefined;
  #parts: Buffer[] = [];
  #size = 0;

  /** `onChunk` is told the size of every message pushed (for progress). */
  constructor(chunkSize: number, onChunk?: (bytes: number) => void) {
    super({ readableObjectMode: true, readableHighWaterMark: 2 });
    this.#chunkSize = chunkSize;
    this.#onChunk = onChunk;
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
    done();
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
    this.push({ chunk } satisfies UploadFileRequest);
    this.#onChunk?.(chunk.length);
  }
}

const corrupted = (message: string) => clientError("DATA_CORRUPTED", message, { grpcCode: status.DATA_LOSS });

/**
 * DownloadFile messages → the object's bytes. The first message must be the header (exposed as
 * `header`). Checks the byte count against the header, and the sha256 too when asked.
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

  constructor(
    options: { verify?: boolean; onProgress?: (transferred: number, total: number | undefined) => void } = {},
  ) {
    super({ writableObjectMode: true, writableHighWaterMark: 2, readableHighWaterMark: 1024 * 1024 });
    this.#verify = options.verify === true;
    this.#onProgress = options.onProgress;
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
        done(corrupted("The download did not start with a header."));
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
      done(corrupted("The download carried a second header."));
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
      done(corrupted("The download ended without a header."));
      return;
    }
    if (this.#bytes !== header.contentLength) {
      done(
        corrupted(`The download carried ${this.#bytes} bytes, not the announced ${header.contentLength}.`),
      );
      return;
    }
    if (this.#hash && this.#hash.digest("hex") !== header.file?.sha256) {
      done(corrupted("The downloaded bytes do not match the object's sha256."));
      return;
    }
    done();
  }

  override _destroy(err: Error | null, done: (err?: Error | null) => void): void {
    this.#reject(err ?? clientError("CANCELLED", "The download was closed.", { grpcCode: status.CANCELLED }));
    done(err);
  }
}
