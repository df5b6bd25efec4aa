import { randomUUID } from "node:crypto";
import { pipeline, Readable } from "node:stream";
import { peek } from "../../core/peek.ts";
import type { StorageService } from "../../core/storage-service.ts";
import type { ObjectInfo } from "../../core/types.ts";
import type { UploadSession } from "../../core/upload-sessions.ts";
import { asStorageError, isStorageError, StorageError } from "../../errors.ts";
import { chooseEncoding, decoder, encoder, encodingOf, PROBE_BYTES } from "./compression.ts";
import { ContentCheck, declaredMismatch } from "./content-check.ts";
import { checkFilePath, checkSha256 } from "./names.ts";
import type { BlobInput, Encoding, StoredBlob } from "./types.ts";

/**
 * Content-addressed blobs in the model bucket, through the storage core only: `blobs/sha256/<hex>`
 * where hex is the sha256 of the content (before compression). A compressed blob carries object
 * metadata `encoding` and `original-size`; the core's own row hashes what it stored. A blob never
 * appears under a name that is not its content's: with a declared sha256 the body streams straight
 * to its key and a mismatch fails the stream before the store commits; without one it is staged
 * under `staging/` and copied to its key once its sha256 is known.
 */

export const BLOB_PREFIX = "blobs/sha256/";
export const STAGING_PREFIX = "staging/";
export const blobKey = (sha256: string) => `${BLOB_PREFIX}${sha256}`;

export interface BlobInfo {
  key: string;
  sha256: string;
  /** Content bytes. */
  size: number;
  /** Bytes in the store. */
  storedSize: number;
  encoding: Encoding;
  info: ObjectInfo;
}

const isNotFound = (err: unknown) => isStorageError(err) && err.code === "NOT_FOUND";

export class Blobs {
  readonly bucket: string;
  readonly #service: StorageService;
  readonly #compression: boolean;

  constructor(service: StorageService, bucket: string, compression: boolean) {
    this.#service = service;
    this.bucket = bucket;
    this.#compression = compression;
  }

  /**
   * The blob stored under this sha256, or undefined. An uncompressed object there whose recorded
   * sha256 is another (an upload session completed under a wrong name) is no blob of this content.
   */
  async find(sha256: string): Promise<BlobInfo | undefined> {
    const hex = checkSha256(sha256);
    let info: ObjectInfo;
    try {
      info = await this.#service.stat(this.bucket, blobKey(hex));
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
    return describeBlob(hex, info);
  }

  async put(input: BlobInput, owner: string, signal?: AbortSignal): Promise<StoredBlob> {
    let declared: { sha256?: string; size?: number };
    let path: string;
    try {
      path = checkFilePath(input.path);
      declared = {
        ...(input.sha256 !== undefined ? { sha256: checkSha256(input.sha256) } : {}),
        ...(input.size !== undefined ? { size: checkSize(input.size) } : {}),
      };
      if (declared.sha256) {
        const existing = await this.find(declared.sha256);
        if (existing) {
          sameSize(existing, declared.size);
          // Deduplicated: the bytes are not needed. Drained rather than destroyed, so a request
          // body's socket still carries the answer.
          input.body.resume();
          return stored(existing, true);
        }
      }
    } catch (err) {
      input.body.resume();
      throw err;
    }

    const { head, stream } = await peek(input.body, PROBE_BYTES);
    // original-size goes into the object's metadata when it is written, so compression needs the
    // size up front: declared, or a body that ended within the probe.
    const size = declared.size ?? (head.length < PROBE_BYTES ? head.length : undefined);
    const encoding = size === undefined ? "identity" : await chooseEncoding(path, head, this.#compression);
    const check = new ContentCheck(declared, declaredMismatch);
    const encode = encoder(encoding);
    const body = encode ? pipeline(stream, check, encode, () => {}) : pipeline(stream, check, () => {});
    const direct = declared.sha256 !== undefined;
    const info = await this.#service.upload({
      bucket: this.bucket,
      key: direct ? blobKey(declared.sha256 as string) : `${STAGING_PREFIX}${randomUUID()}`,
      body,
      owner,
      contentType: "application/octet-stream",
      metadata: encode ? { encoding, "original-size": String(size) } : {},
      // Stored as is, a known size is what the core admits and limits up front.
      ...(!encode && size !== undefined ? { expectedSize: size } : {}),
      ...(signal ? { signal } : {}),
    });
    if (direct) return stored(describeBlob(check.sha256, info) as BlobInfo, false);
    return this.#publishStaged(info, check.sha256, owner, signal);
  }

  /**
   * A resumable upload session (the core's, core/upload-sessions.ts) straight to the blob's key, for
   * a file too large for one request; or, if the blob is stored already (of the declared size), that
   * blob and no session. The session's completion verifies the declared sha256 and size before the
   * object exists for the service, so `blobs/sha256/<hex>` never holds other content; its bytes are
   * stored as sent (no compression: they never pass through the service).
   */
  async session(
    req: { sha256: string; size: number; partSize?: number },
    owner: string,
  ): Promise<{ blob: StoredBlob } | { session: UploadSession }> {
    const hex = checkSha256(req.sha256);
    const size = checkSize(req.size);
    const existing = await this.find(hex);
    if (existing) {
      sameSize(existing, size);
      return { blob: stored(existing, true) };
    }
    const session = await this.#service.sessions.create({
      bucket: this.bucket,
      key: blobKey(hex),
      size,
      sha256: hex,
      owner,
      contentType: "application/octet-stream",
      ...(req.partSize !== undefined ? { partSize: req.partSize } : {}),
    });
    return { session };
  }

  /** Moves a staged upload to its content's name (unless that blob exists) and removes the staged copy. */
  async #publishStaged(staged: ObjectInfo, sha256: string, owner: string, signal?: AbortSignal) {
    try {
      const existing = await this.find(sha256);
      if (existing) return stored(existing, true);
      const info = await this.#service.copy(
        { bucket: this.bucket, key: staged.key, versionId: staged.versionId },
        { bucket: this.bucket, key: blobKey(sha256) },
        owner,
        signal ? { signal } : {},
      );
      return stored(describeBlob(sha256, info) as BlobInfo, false);
    } finally {
      await this.#service.withdraw(staged);
    }
  }

  /** The content of a blob: decoded, and checked against its sha256 and size as it streams. */
  async open(blob: { sha256: string; size: number }, signal?: AbortSignal): Promise<Readable> {
    const key = blobKey(blob.sha256);
    const download = await this.#service.download(this.bucket, key, signal ? { signal } : {});
    const decode = decoder(encodingOf(download.info.metadata));
    const raw = download.body;
    const decoded = decode ? pipeline(raw, decode, () => {}) : raw;
    const corrupted = (message: string, details: Record<string, string | number>) =>
      new StorageError("DATA_CORRUPTED", `The stored blob ${key} is damaged: ${message}`, {
        bucket: this.bucket,
        key,
        ...details,
      });
    const check = new ContentCheck({ sha256: blob.sha256, size: blob.size }, corrupted, { holdLast: true });
    async function* verified() {
      try {
        for await (const chunk of decoded.pipe(check)) yield chunk as Buffer;
      } catch (err) {
        throw isStorageError(err) ? err : corrupted(decodeFailure(err), {});
      } finally {
        decoded.destroy();
      }
    }
    decoded.once("error", (err) => check.destroy(err));
    return Readable.from(verified(), { objectMode: false, highWaterMark: 1024 * 1024 });
  }

  /** Every version of a blob key last written before `cutoff`, newest first, until none is left. */
  async remove(key: string, cutoff: Date): Promise<void> {
    for (let i = 0; i < MAX_VERSIONS_REMOVED; i++) {
      let info: ObjectInfo;
      try {
        info = await this.#service.stat(this.bucket, key);
      } catch (err) {
        if (isNotFound(err)) return;
        throw err;
      }
      // A version written since the pass began is someone's new upload: theirs to keep.
      if (info.lastModified > cutoff) return;
      await this.#service.withdraw(info);
    }
  }

  /** Every current object under a prefix of the bucket, a page at a time. */
  async *walk(prefix: string): AsyncGenerator<{ key: string; size: number; lastModified: Date }> {
    let cursor: string | undefined;
    do {
      const page = await this.#service.list(this.bucket, {
        prefix,
        recursive: true,
        ...(cursor ? { cursor } : {}),
      });
      for (const o of page.objects) yield o;
      cursor = page.nextCursor;
    } while (cursor);
  }
}

/** Enough for the versions one key can gather; a loop that runs longer is deleting someone's writes. */
const MAX_VERSIONS_REMOVED = 100;

function checkSize(size: number): number {
  if (!Number.isSafeInteger(size) || size < 0) {
    throw new StorageError("INVALID_ARGUMENT", "A file size is a whole number of bytes.", { field: "size" });
  }
  return size;
}

/**
 * A declared size must be the stored blob's: a client that announces a digest with another size is
 * mistaken about its file (or about the digest), and is told so rather than handed a blob.
 */
function sameSize(blob: BlobInfo, declared: number | undefined): void {
  if (declared === undefined || declared === blob.size) return;
  throw new StorageError(
    "PRECONDITION_FAILED",
    `The blob ${blob.sha256} is stored with ${blob.size} bytes, not the declared ${declared}: check the file and its sha256.`,
    { field: "size", size: declared, sha256: blob.sha256 },
  );
}

function describeBlob(sha256: string, info: ObjectInfo): BlobInfo | undefined {
  const encoding = encodingOf(info.metadata);
  if (encoding === "identity" && info.sha256 !== undefined && info.sha256 !== sha256) return undefined;
  const original = Number(info.metadata["original-size"]);
  const size = encoding === "identity" ? info.size : original;
  if (!Number.isSafeInteger(size) || size < 0) return undefined;
  return { key: info.key, sha256, size, storedSize: info.size, encoding, info };
}

const stored = (blob: BlobInfo, deduplicated: boolean): StoredBlob => ({
  sha256: blob.sha256,
  size: blob.size,
  storedSize: blob.storedSize,
  encoding: blob.encoding,
  deduplicated,
});

function decodeFailure(err: unknown): string {
  const e = asStorageError(err);
  return `it does not decompress (${e.message}).`;
}
