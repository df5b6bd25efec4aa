import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import type { UploadOptions } from "./types.ts";

/**
 * What an upload announces in its header. An announced size lets the service refuse a short or
 * long body and reserve only that much buffer; an announced sha256 makes it store the object only
 * if every byte arrived as sent. Both are checked before anything is stored.
 */

export const sha256Of = (data: Uint8Array): string => createHash("sha256").update(data).digest("hex");

/** sha256 of a file, read as a stream (a first pass over the file, before it is uploaded). */
export async function fileSha256(path: string): Promise<string> {
  const hash = createHash("sha256");
  for await (const chunk of createReadStream(path, { highWaterMark: 1024 * 1024 })) {
    hash.update(chunk as Buffer);
  }
  return hash.digest("hex");
}

/**
 * `options` with the size and sha256 of bytes whose length is known: the caller's own values win,
 * and `checksum: false` skips the sha256 (`sha256` is only called when needed).
 */
export function announced(
  options: UploadOptions,
  size: number,
  sha256: () => string | undefined,
): UploadOptions {
  const digest = options.sha256 ?? (options.checksum === false ? undefined : sha256());
  return {
    ...options,
    expectedSize: options.expectedSize ?? size,
    ...(digest !== undefined ? { sha256: digest } : {}),
  };
}
