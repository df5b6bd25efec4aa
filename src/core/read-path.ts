import type { Transform } from "node:stream";
import { pipeline } from "node:stream/promises";
import { StorageError } from "../errors.ts";
import { pipeInto } from "../pipe.ts";
import { type CoreContext, checkCustomerKeyFor, describes, keyOption, toInfo } from "./core-context.ts";
import { refuseExpired, secondsLeft } from "./expiry.ts";
import { type IndexSync, OUT_OF_BAND_OWNER } from "./index-sync.ts";
import { IngestGuard, VerifyingStream } from "./ingest.ts";
import { extensionOf, validateBucket, validateKey, validatePrefix } from "./keys.ts";
import { PacedStream } from "./scavenge-pacer.ts";
import type {
  CustomerKeyOptions,
  Download,
  DownloadOptions,
  ListRequest,
  ListResult,
  ObjectInfo,
  PresignedUrl,
  PresignRequest,
  StatOptions,
} from "./types.ts";
import { checkExtension } from "./upload-checks.ts";

const MAX_LIST_LIMIT = 1000;

/**
 * Reads: every full download is verified against the recorded sha256 (or, where the row is stale,
 * hashed and recorded); stat and list answer from the index, which follows the store.
 */
export class ReadPath {
  readonly #core: CoreContext;
  readonly #sync: IndexSync;

  constructor(core: CoreContext, sync: IndexSync) {
    this.#core = core;
    this.#sync = sync;
  }

  async download(bucket: string, key: string, options: DownloadOptions = {}): Promise<Download> {
    const { store, index, hashing } = this.#core;
    validateBucket(bucket);
    const k = validateKey(key);
    const range = options.range;
    if (
      range &&
      (!Number.isSafeInteger(range.start) ||
        range.start < 0 ||
        (range.end !== undefined && range.end < range.start))
    ) {
      throw new StorageError("RANGE_NOT_SATISFIABLE", "The byte range must satisfy 0 <= start <= end.", {
        field: "range",
      });
    }
    await checkCustomerKeyFor(this.#core, options.sseCustomerKey, { bucket, key: k });
    const got = await store.get(bucket, k, options);
    try {
      refuseExpired(got.head);
    } catch (err) {
      got.body.destroy();
      throw err;
    }
    const record = await index.find(bucket, k, got.head.versionId).catch((err) => {
      got.body.destroy();
      throw err;
    });
    const info = toInfo(got.head, record);
    let body: Transform;
    if (!got.range && info.sha256) {
      body = new VerifyingStream({ sha256: info.sha256, size: info.size, bucket, key: k }, hashing);
    } else if (!got.range && record) {
      // The row is stale (an out-of-band write): nothing to verify against, so hash what is served
      // and record it once the whole object has passed.
      const guard = new IngestGuard({ maxBytes: Number.MAX_SAFE_INTEGER }, undefined, hashing);
      guard.once("end", () => {
        if (guard.bytes !== got.head.size) return;
        void this.#sync.rederive(got.head, guard.sha256, keyOption(options.sseCustomerKey));
      });
      body = guard;
    } else {
      // A byte range (or an object the index does not know): nothing to verify, still paced.
      body = new PacedStream();
    }
    pipeInto(got.body, body);
    return { info, contentLength: got.contentLength, ...(got.range ? { range: got.range } : {}), body };
  }

  async stat(
    bucket: string,
    key: string,
    versionId?: string,
    options: StatOptions = {},
  ): Promise<ObjectInfo> {
    const { store, index } = this.#core;
    validateBucket(bucket);
    const k = validateKey(key);
    await checkCustomerKeyFor(this.#core, options.sseCustomerKey, { bucket, key: k });
    const keys = keyOption(options.sseCustomerKey);
    const head = await store.head(bucket, k, versionId, keys);
    refuseExpired(head);
    const record = await index.find(bucket, k, head.versionId);
    if (!record || describes(record, head)) return toInfo(head, record);
    const sha256 = await this.hashObject(bucket, k, head.versionId, keys);
    await this.#sync.rederive(head, sha256, keys);
    return { ...toInfo(head, undefined), sha256, owner: OUT_OF_BAND_OWNER };
  }

  /** sha256 of a stored object, by reading it (for objects that reached the store around the service). */
  async hashObject(
    bucket: string,
    key: string,
    versionId?: string,
    options: CustomerKeyOptions = {},
  ): Promise<string> {
    const got = await this.#core.store.get(bucket, key, { versionId, ...keyOption(options.sseCustomerKey) });
    const guard = new IngestGuard({ maxBytes: Number.MAX_SAFE_INTEGER }, undefined, this.#core.hashing);
    await pipeline(got.body, guard, async (source) => {
      for await (const _ of source);
    });
    return guard.sha256;
  }

  async list(bucket: string, req: ListRequest = {}): Promise<ListResult> {
    validateBucket(bucket);
    const prefix = validatePrefix(req.prefix);
    const limit = req.limit ?? MAX_LIST_LIMIT;
    if (!Number.isSafeInteger(limit) || limit < 1 || limit > MAX_LIST_LIMIT) {
      throw new StorageError("INVALID_ARGUMENT", `The page size must be from 1 to ${MAX_LIST_LIMIT}.`, {
        field: "limit",
      });
    }
    if (!(await this.#core.buckets.exists(bucket))) {
      throw new StorageError("NOT_FOUND", `Bucket '${bucket}' does not exist.`, { bucket });
    }
    const page = await this.#core.index.list(bucket, {
      prefix,
      limit,
      ...(req.recursive ? {} : { delimiter: "/" }),
      ...(req.cursor ? { cursor: req.cursor } : {}),
    });
    return {
      objects: page.objects.map((r) => ({
        key: r.key,
        versionId: r.versionId,
        size: r.size,
        etag: r.etag,
        sha256: r.sha256,
        contentType: r.contentType,
        lastModified: r.updatedAt,
      })),
      prefixes: page.prefixes,
      ...(page.nextCursor ? { nextCursor: page.nextCursor } : {}),
    };
  }

  async presign(bucket: string, key: string, req: PresignRequest): Promise<PresignedUrl> {
    const { store, settings } = this.#core;
    validateBucket(bucket);
    const k = validateKey(key);
    const { defaultExpiry, maxExpiry } = settings.presign;
    const expires = req.expiresInSeconds ?? defaultExpiry;
    if (!Number.isSafeInteger(expires) || expires < 1 || expires > maxExpiry) {
      throw new StorageError("INVALID_ARGUMENT", `The expiry must be from 1 to ${maxExpiry} seconds.`, {
        field: "expiresInSeconds",
        limit: maxExpiry,
      });
    }
    let seconds = expires;
    if (req.method === "PUT") checkExtension(settings, bucket, extensionOf(k));
    else {
      const head = await store.head(bucket, k, req.versionId);
      refuseExpired(head);
      // The store would serve the URL past the object's expiry: the URL expires with the object.
      seconds = Math.min(expires, secondsLeft(head.metadata) ?? expires);
    }
    const url = await store.presign(bucket, k, { ...req, expiresInSeconds: seconds });
    return { url, method: req.method, expiresAt: new Date(Date.now() + seconds * 1000) };
  }
}
