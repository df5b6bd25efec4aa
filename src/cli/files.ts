import { createHash } from "node:crypto";
import { createReadStream, createWriteStream } from "node:fs";
import { rename, rm } from "node:fs/promises";
import type { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { asStorageError } from "../errors.ts";

/**
 * Like StorageService.downloadToFile (a temp file beside the target, renamed only after the whole,
 * verified body arrived), plus a byte count for the progress bar, which downloadToFile cannot report.
 * Both modes' download bodies fail on a short or corrupt read, so a failed get leaves no file.
 */
export async function writeFileAtomically(
  body: Readable,
  path: string,
  options: { signal?: AbortSignal; onProgress?: (bytes: number) => void } = {},
): Promise<number> {
  const temp = `${path}.partial-${process.pid}-${Date.now()}`;
  let bytes = 0;
  try {
    await pipeline(
      body,
      async function* (source: AsyncIterable<Buffer>) {
        for await (const chunk of source) {
          bytes += chunk.length;
          options.onProgress?.(bytes);
          yield chunk;
        }
      },
      createWriteStream(temp, { flags: "wx" }),
      { signal: options.signal },
    );
    await rename(temp, path);
  } catch (err) {
    body.destroy();
    await rm(temp, { force: true });
    throw asStorageError(err);
  }
  return bytes;
}

/** Hex sha256 of a file, read as a stream. */
export async function sha256File(path: string, signal?: AbortSignal): Promise<string> {
  const hash = createHash("sha256");
  const stream = createReadStream(path, { highWaterMark: 1024 * 1024, ...(signal ? { signal } : {}) });
  for await (const chunk of stream as AsyncIterable<Buffer>) hash.update(chunk);
  return hash.digest("hex");
}
