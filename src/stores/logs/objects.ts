import { Readable } from "node:stream";
import { createGunzip, createGzip } from "node:zlib";
import type { StorageService } from "../../core/storage-service.ts";
import type { ObjectInfo } from "../../core/types.ts";
import { StorageError } from "../../errors.ts";
import type { Compression } from "./keys.ts";

/**
 * The archive's one writer and reader of log objects. Every object is written as whole gzip
 * members (or plain text with "none"), so objects concatenate into a valid object byte for byte:
 * that is what makes compaction a copy rather than a recompression. The hourly audit export
 * writes through `writeLogObject` too.
 */

export interface WriteLogObject {
  service: StorageService;
  bucket: string;
  key: string;
  compression: Compression;
  /** Text lines (each ending in "\n") or raw chunks; streamed, never held whole. */
  source: AsyncIterable<string | Buffer> | Iterable<string | Buffer>;
  owner: string;
  contentType?: string;
  ifMatch?: string;
  ifNoneMatch?: "*";
}

export async function writeLogObject(w: WriteLogObject): Promise<ObjectInfo> {
  const source = Readable.from(w.source);
  const body = w.compression === "gzip" ? source.pipe(createGzip()) : source;
  if (body !== source) source.on("error", (err) => body.destroy(err));
  try {
    return await w.service.upload({
      bucket: w.bucket,
      key: w.key,
      body,
      owner: w.owner,
      contentType:
        w.contentType ?? (w.compression === "gzip" ? "application/gzip" : "text/plain; charset=utf-8"),
      ...(w.ifMatch ? { ifMatch: w.ifMatch } : {}),
      ...(w.ifNoneMatch ? { ifNoneMatch: w.ifNoneMatch } : {}),
    });
  } catch (err) {
    throw err instanceof StorageError
      ? err
      : new StorageError("INTERNAL", "Writing the log object failed.", { key: w.key }, { cause: err });
  }
}

/** One object's bytes as stored (gzip members stay compressed): for compaction. */
export async function* storedBytes(
  service: StorageService,
  bucket: string,
  key: string,
): AsyncGenerator<Buffer> {
  const { body } = await service.download(bucket, key);
  try {
    for await (const chunk of body) yield chunk as Buffer;
  } finally {
    body.destroy();
  }
}

/** One object's text, decompressed (Node's gunzip reads every concatenated member). */
export async function openText(
  service: StorageService,
  bucket: string,
  key: string,
  compression: Compression,
): Promise<Readable> {
  const { body } = await service.download(bucket, key);
  if (compression === "none") return body;
  const gunzip = createGunzip();
  body.on("error", (err) => gunzip.destroy(err));
  gunzip.on("close", () => body.destroy());
  return body.pipe(gunzip);
}
