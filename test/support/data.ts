import { createHash, randomBytes } from "node:crypto";
import { createWriteStream } from "node:fs";
import { Readable, Writable } from "node:stream";
import { pipeline } from "node:stream/promises";

const CHUNK = 1024 * 1024;

const PREFIX = Buffer.from("lumenslate test data\n");

/**
 * `size` random bytes behind a fixed text prefix. Uploads pass a content check that reads file
 * signatures at offset 0: pure random bytes start like an executable ("MZ") or some other format
 * once in tens of thousands of runs, and are then rightly refused.
 */
export function uploadableBytes(size: number): Buffer {
  if (size <= PREFIX.length) return PREFIX.subarray(0, size);
  return Buffer.concat([PREFIX, randomBytes(size - PREFIX.length)]);
}

/**
 * A stream of `size` bytes produced lazily in 1 MiB chunks, and the sha256 it will have: the same
 * fixed text prefix as `uploadableBytes`, then random bytes (so uploads pass the content check).
 */
export function randomSource(size: number): { stream: Readable; sha256: Promise<string> } {
  const hash = createHash("sha256");
  let sent = 0;
  let resolve!: (hex: string) => void;
  const sha256 = new Promise<string>((r) => {
    resolve = r;
  });
  const stream = new Readable({
    highWaterMark: CHUNK,
    read() {
      if (sent >= size) {
        resolve(hash.digest("hex"));
        this.push(null);
        return;
      }
      const length = Math.min(CHUNK, size - sent);
      const chunk =
        sent > 0
          ? randomBytes(length)
          : length <= PREFIX.length
            ? Buffer.from(PREFIX.subarray(0, length))
            : Buffer.concat([PREFIX, randomBytes(length - PREFIX.length)]);
      sent += chunk.length;
      hash.update(chunk);
      this.push(chunk);
    },
  });
  if (size === 0) stream.once("end", () => {});
  return { stream, sha256 };
}

export const sha256Of = (data: Buffer | string) => createHash("sha256").update(data).digest("hex");

/** Reads a whole stream into memory (small objects only). */
export async function collect(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(Buffer.from(chunk));
  return Buffer.concat(chunks);
}

/** sha256 and length of a stream, without keeping it. */
export async function digestStream(stream: Readable): Promise<{ sha256: string; size: number }> {
  const hash = createHash("sha256");
  let size = 0;
  await pipeline(
    stream,
    new Writable({
      write(chunk: Buffer, _enc, cb) {
        hash.update(chunk);
        size += chunk.length;
        cb();
      },
    }),
  );
  return { sha256: hash.digest("hex"), size };
}

/** Writes `size` bytes (the fixed text prefix, then random bytes) to a file and returns their sha256. */
export async function writeRandomFile(path: string, size: number): Promise<string> {
  const source = randomSource(size);
  await pipeline(source.stream, createWriteStream(path));
  return source.sha256;
}

export const bufferStream = (data: Buffer | string) => Readable.from([Buffer.from(data)]);
