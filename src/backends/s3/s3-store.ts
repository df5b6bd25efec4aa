import type { Readable } from "node:stream";
import {
  AbortMultipartUploadCommand,
  CopyObjectCommand,
  CreateBucketCommand,
  DeleteObjectCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  type S3Client,
} from "@aws-sdk/client-s3";
import { getSignedUrl } from "@aws-sdk/s3-request-presigner";
import type { Secret } from "../../config/secret.ts";
import { isStorageError, StorageError } from "../../errors.ts";
import { chunkByChunk } from "../../pipe.ts";
import {
  type CopyOptions,
  type CustomerKeyOption,
  type CustomerKeySupport,
  DELETE_MANY_MAX,
  type DeleteManyOutcome,
  type DeleteOptions,
  type DeleteResult,
  type GetOptions,
  type GetResult,
  type IncompleteUpload,
  type ListOptions,
  type ListPage,
  NULL_VERSION,
  type ObjectHead,
  type ObjectStore,
  type PresignOptions,
  type PutOptions,
  type PutResult,
} from "../object-store.ts";
import { preconditionFailed } from "../write-condition.ts";
import { tlsFailure } from "./client.ts";
import {
  copySourceKeyParams,
  customerKeyError,
  customerKeyParams,
  readFailure,
  withoutRequest,
} from "./customer-keys.ts";
import { fromS3Error } from "./errors.ts";
import { COPY_DEFAULTS, copySourceOf, multipartCopy } from "./multipart-copy.ts";
import { S3MultipartSessions } from "./multipart-sessions.ts";
import { PartBuffers } from "./part-buffers.ts";
import { putInParts } from "./part-upload.ts";
import { conditionFailure, conditionParams } from "./write-condition.ts";

type Context = { bucket?: string; key?: string; versionId?: string };

export interface S3StoreOptions {
  /** Multipart part size in bytes (memory per in-flight part). */
  partSize: number;
  /** Parts uploaded at once per object. */
  queueSize: number;
  /** A bucket HEADed by ping(); a 404 still proves the store answers. */
  probeBucket: string;
  /** Sources larger than this (bytes) are copied part by part; default 5 GiB, CopyObject's limit. */
  copyThreshold?: number;
  /** Part size of such copies; default 512 MiB, grown to stay within 10,000 parts. */
  copyPartSize?: number;
  /** Parts copied at once; default 4. */
  copyConcurrency?: number;
}

const parseTotal = (contentRange: string | undefined) => Number(contentRange?.split("/")[1] ?? Number.NaN);

/** SDK error → StorageError: TLS trouble first (the SDK's own mapping would call it INTERNAL), then S3. */
const fromSdkError = (err: unknown, context: Context): StorageError =>
  tlsFailure(err) ?? fromS3Error(err, context);

/** For requests that read an existing object: SSE-C refusals get their own clear errors. */
const toReadError = (err: unknown, context: Context, keySent: boolean, anyKey: boolean): StorageError => {
  const cause = anyKey ? withoutRequest(err) : err;
  const failure = readFailure(cause, keySent);
  return failure ? customerKeyError(failure, context, cause) : fromSdkError(cause, context);
};

/** ObjectStore over any S3-compatible service (MinIO, AWS S3, GCS interop) with the AWS SDK v3. */
export class S3Store implements ObjectStore {
  readonly kind = "s3" as const;
  readonly capabilities = { presign: true, versioning: true };
  /** Up to queueSize parts held at once, in flight or being filled (one PutObject buffers the body). */
  get uploadBufferBytes(): number {
    return this.#options.partSize * this.#options.queueSize;
  }
  /** A body of unknown size is buffered up to one part before it is known to need a multipart upload. */
  get uploadPartBytes(): number {
    return this.#options.partSize;
  }
  readonly client: S3Client;
  readonly multipartSessions: S3MultipartSessions;
  readonly #options: S3StoreOptions;
  readonly #partBuffers: PartBuffers;
  #support: Promise<CustomerKeySupport> | undefined;

  constructor(client: S3Client, options: S3StoreOptions) {
    this.client = client;
    this.multipartSessions = new S3MultipartSessions(client);
    this.#options = options;
    // One upload's worth of spare part buffers is kept for the next one.
    this.#partBuffers = new PartBuffers(options.partSize, options.queueSize);
  }

  /** SSE-C keys go only over TLS: an https endpoint (or none, where the SDK always uses https). */
  customerKeySupport(): Promise<CustomerKeySupport> {
    this.#support ??= Promise.resolve(this.client.config.endpoint?.()).then((endpoint) =>
      !endpoint || endpoint.protocol === "https:" ? "tls" : "plaintext",
    );
    return this.#support;
  }

  async ping(signal?: AbortSignal): Promise<void> {
    try {
      await this.client.send(new HeadBucketCommand({ Bucket: this.#options.probeBucket }), {
        abortSignal: signal,
      });
    } catch (err) {
      const mapped = fromSdkError(err, {});
      if (mapped.code !== "NOT_FOUND") throw mapped;
    }
  }

  async bucketExists(bucket: string): Promise<boolean> {
    try {
      await this.client.send(new HeadBucketCommand({ Bucket: bucket }));
      return true;
    } catch (err) {
      const mapped = fromSdkError(err, { bucket });
      if (mapped.code === "NOT_FOUND") return false;
      throw mapped;
    }
  }

  async createBucket(bucket: string): Promise<void> {
    await this.#wrap(this.client.send(new CreateBucketCommand({ Bucket: bucket })), { bucket });
  }

  async put(bucket: string, key: string, body: Readable, options: PutOptions): Promise<PutResult> {
    await this.#requireTls(options.sseCustomerKey, { bucket, key });
    // Cancel by failing the body: the upload then aborts its multipart upload before it settles,
    // so a cancelled upload leaves no parts behind.
    const onAbort = () => body.destroy(Object.assign(new Error("Upload cancelled."), { name: "AbortError" }));
    options.signal?.addEventListener("abort", onAbort, { once: true });
    try {
      if (options.signal?.aborted) onAbort();
      const result = await putInParts(
        this.client,
        chunkByChunk(body),
        {
          bucket,
          key,
          create: { ContentType: options.contentType, Metadata: options.metadata },
          // SSE-C headers go on every request; the condition only on the one that makes the
          // object visible (PutObject or CompleteMultipartUpload).
          every: customerKeyParams(options.sseCustomerKey),
          visible: conditionParams(options.condition),
        },
        {
          buffers: this.#partBuffers,
          queueSize: this.#options.queueSize,
          ...(options.signal ? { signal: options.signal } : {}),
          ...(options.onProgress ? { onProgress: options.onProgress } : {}),
        },
      );
      return { etag: result.ETag ?? "", versionId: result.VersionId ?? NULL_VERSION };
    } catch (err) {
      if (isStorageError(err)) throw err;
      const cause = options.sseCustomerKey ? withoutRequest(err) : err;
      // A refused completion has already had its multipart upload aborted (part-upload.ts).
      const refused = conditionFailure(cause, options.condition, { bucket, key });
      throw refused ?? fromSdkError(cause, { bucket, key });
    } finally {
      options.signal?.removeEventListener("abort", onAbort);
    }
  }

  async get(bucket: string, key: string, options: GetOptions = {}): Promise<GetResult> {
    const range = options.range ? `bytes=${options.range.start}-${options.range.end ?? ""}` : undefined;
    const context = { bucket, key, versionId: options.versionId };
    await this.#requireTls(options.sseCustomerKey, context);
    const out = await this.#read(
      this.client.send(
        new GetObjectCommand({
          Bucket: bucket,
          Key: key,
          VersionId: options.versionId,
          Range: range,
          ...customerKeyParams(options.sseCustomerKey),
        }),
        { abortSignal: options.signal },
      ),
      context,
      options.sseCustomerKey,
    );
    const body = out.Body as Readable;
    const contentLength = out.ContentLength ?? 0;
    const size = options.range ? parseTotal(out.ContentRange) : contentLength;
    const head: ObjectHead = {
      bucket,
      key,
      versionId: out.VersionId ?? NULL_VERSION,
      size,
      etag: out.ETag ?? "",
      contentType: out.ContentType ?? "application/octet-stream",
      metadata: out.Metadata ?? {},
      lastModified: out.LastModified ?? new Date(0),
      ...(out.SSECustomerAlgorithm ? { encryption: "SSE-C" as const } : {}),
    };
    if (!options.range) return { head, contentLength, body };
    const start = options.range.start;
    return { head, contentLength, body, range: { start, end: start + contentLength - 1 } };
  }

  async head(
    bucket: string,
    key: string,
    versionId?: string,
    options: CustomerKeyOption = {},
  ): Promise<ObjectHead> {
    const context = { bucket, key, versionId };
    await this.#requireTls(options.sseCustomerKey, context);
    const out = await this.#read(
      this.client.send(
        new HeadObjectCommand({
          Bucket: bucket,
          Key: key,
          VersionId: versionId,
          ...customerKeyParams(options.sseCustomerKey),
        }),
      ),
      context,
      options.sseCustomerKey,
    );
    return {
      bucket,
      key,
      versionId: out.VersionId ?? NULL_VERSION,
      size: out.ContentLength ?? 0,
      etag: out.ETag ?? "",
      contentType: out.ContentType ?? "application/octet-stream",
      metadata: out.Metadata ?? {},
      lastModified: out.LastModified ?? new Date(0),
      ...(out.SSECustomerAlgorithm ? { encryption: "SSE-C" as const } : {}),
    };
  }

  async delete(
    bucket: string,
    key: string,
    versionId?: string,
    options: DeleteOptions = {},
  ): Promise<DeleteResult> {
    const condition = options.ifMatch === undefined ? undefined : { ifMatch: options.ifMatch };
    if (condition) {
      // S3 honours If-Match on DELETE; a store that ignores the header (older MinIO) still gets
      // this HEAD, which leaves only the window between the two requests open.
      const current = await this.head(bucket, key, versionId).then(
        (head) => head.etag,
        (err: unknown) => {
          if (isStorageError(err) && err.code === "NOT_FOUND") return undefined;
          throw err;
        },
      );
      if (current !== options.ifMatch) throw preconditionFailed(condition, { bucket, key });
    }
    const out = await this.client
      .send(
        new DeleteObjectCommand({
          Bucket: bucket,
          Key: key,
          VersionId: versionId,
          ...conditionParams(condition),
        }),
      )
      .catch((err: unknown) => {
        throw (
          conditionFailure(err, condition, { bucket, key }) ?? fromSdkError(err, { bucket, key, versionId })
        );
      });
    return {
      deleteMarker: out.DeleteMarker === true,
      ...(out.VersionId ? { versionId: out.VersionId } : {}),
    };
  }

  /**
   * One DeleteObjects request for up to 1000 keys (Quiet off, so each deleted key reports whether it
   * left a delete marker, which the index follows). Per-key failures come back as outcomes.
   */
  async deleteMany(bucket: string, keys: readonly string[]): Promise<DeleteManyOutcome[]> {
    if (keys.length === 0) return [];
    if (keys.length > DELETE_MANY_MAX) {
      throw new StorageError("INVALID_ARGUMENT", `At most ${DELETE_MANY_MAX} keys can be deleted at once.`);
    }
    const out = await this.#wrap(
      this.client.send(
        new DeleteObjectsCommand({
          Bucket: bucket,
          Delete: { Objects: keys.map((Key) => ({ Key })), Quiet: false },
        }),
      ),
      { bucket },
    );
    const outcomes: DeleteManyOutcome[] = (out.Deleted ?? []).map((d) => ({
      key: d.Key ?? "",
      deleted: true,
      deleteMarker: d.DeleteMarker === true,
    }));
    for (const e of out.Errors ?? []) {
      const key = e.Key ?? "";
      const error = fromSdkError({ name: e.Code, message: e.Message }, { bucket, key });
      // A key already gone is what a delete wants (S3 itself reports it as deleted).
      if (error.code === "NOT_FOUND") outcomes.push({ key, deleted: true, deleteMarker: false });
      else outcomes.push({ key, deleted: false, error });
    }
    return outcomes;
  }

  async list(bucket: string, options: ListOptions = {}): Promise<ListPage> {
    const out = await this.#wrap(
      this.client.send(
        new ListObjectsV2Command({
          Bucket: bucket,
          Prefix: options.prefix || undefined,
          Delimiter: options.delimiter || undefined,
          ContinuationToken: options.cursor,
          StartAfter: options.cursor === undefined ? options.startAfter : undefined,
          MaxKeys: Math.min(options.limit ?? 1000, 1000),
        }),
      ),
      { bucket },
    );
    return {
      objects: (out.Contents ?? []).map((o) => ({
        key: o.Key ?? "",
        size: o.Size ?? 0,
        etag: o.ETag ?? "",
        lastModified: o.LastModified ?? new Date(0),
      })),
      prefixes: (out.CommonPrefixes ?? []).map((p) => p.Prefix ?? ""),
      ...(out.IsTruncated && out.NextContinuationToken ? { nextCursor: out.NextContinuationToken } : {}),
    };
  }

  async copy(
    source: { bucket: string; key: string; versionId?: string } & CustomerKeyOption,
    target: { bucket: string; key: string } & CustomerKeyOption,
    options: CopyOptions = {},
  ): Promise<PutResult> {
    const context = { bucket: source.bucket, key: source.key, versionId: source.versionId };
    await this.#requireTls(source.sseCustomerKey ?? target.sseCustomerKey, context);
    // CopyObject stops at 5 GiB: larger sources go part by part.
    const { sourceHead, ...copyOptions } = options;
    const head = sourceHead ?? (await this.head(source.bucket, source.key, source.versionId, source));
    // Pinned to the version HEAD saw, so the bytes copied are the ones the caller's sha256 describes.
    const versionId = source.versionId ?? (head.versionId === NULL_VERSION ? undefined : head.versionId);
    if (head.size > (this.#options.copyThreshold ?? COPY_DEFAULTS.threshold)) {
      const request = {
        source: { ...source, ...head, versionId },
        target,
        partSize: this.#options.copyPartSize ?? COPY_DEFAULTS.partSize,
        concurrency: this.#options.copyConcurrency ?? COPY_DEFAULTS.concurrency,
        ...copyOptions,
      };
      const pending = multipartCopy(this.client, request);
      return this.#read(pending, context, source.sseCustomerKey, target.sseCustomerKey);
    }
    const out = await this.#read(
      this.client.send(
        new CopyObjectCommand({
          Bucket: target.bucket,
          Key: target.key,
          CopySource: copySourceOf(source.bucket, source.key, versionId),
          MetadataDirective: "COPY",
          ...copySourceKeyParams(source.sseCustomerKey),
          ...customerKeyParams(target.sseCustomerKey),
        }),
        { abortSignal: options.signal },
      ),
      context,
      source.sseCustomerKey,
      target.sseCustomerKey,
    );
    return { etag: out.CopyObjectResult?.ETag ?? "", versionId: out.VersionId ?? NULL_VERSION };
  }

  async presign(bucket: string, key: string, options: PresignOptions): Promise<string> {
    const command =
      options.method === "GET"
        ? new GetObjectCommand({ Bucket: bucket, Key: key, VersionId: options.versionId })
        : new PutObjectCommand({ Bucket: bucket, Key: key, ContentType: options.contentType });
    try {
      return await getSignedUrl(this.client, command, { expiresIn: options.expiresInSeconds });
    } catch (err) {
      throw fromSdkError(err, { bucket, key });
    }
  }

  async listIncompleteUploads(bucket: string): Promise<IncompleteUpload[]> {
    const uploads: IncompleteUpload[] = [];
    let keyMarker: string | undefined;
    let uploadIdMarker: string | undefined;
    do {
      const out = await this.#wrap(
        this.client.send(
          new ListMultipartUploadsCommand({
            Bucket: bucket,
            KeyMarker: keyMarker,
            UploadIdMarker: uploadIdMarker,
          }),
        ),
        { bucket },
      );
      for (const u of out.Uploads ?? []) {
        if (u.Key && u.UploadId)
          uploads.push({ key: u.Key, uploadId: u.UploadId, initiated: u.Initiated ?? new Date(0) });
      }
      keyMarker = out.IsTruncated ? out.NextKeyMarker : undefined;
      uploadIdMarker = out.IsTruncated ? out.NextUploadIdMarker : undefined;
    } while (keyMarker);
    return uploads;
  }

  async abortIncompleteUpload(bucket: string, upload: IncompleteUpload): Promise<void> {
    await this.#wrap(
      this.client.send(
        new AbortMultipartUploadCommand({ Bucket: bucket, Key: upload.key, UploadId: upload.uploadId }),
      ),
      {
        bucket,
        key: upload.key,
      },
    );
  }

  async close(): Promise<void> {
    this.client.destroy();
  }

  async #wrap<T>(pending: Promise<T>, context: Context): Promise<T> {
    try {
      return await pending;
    } catch (err) {
      throw fromSdkError(err, context);
    }
  }

  /**
   * #wrap for requests on an existing object, where S3 may refuse the SSE-C part. `readKey` is the
   * key sent for the object read; `otherKey` another key the request carried (a copy's target).
   */
  async #read<T>(pending: Promise<T>, context: Context, readKey?: Secret, otherKey?: Secret): Promise<T> {
    try {
      return await pending;
    } catch (err) {
      throw toReadError(err, context, readKey !== undefined, Boolean(readKey ?? otherKey));
    }
  }

  /** Never sends a customer key in clear text, even if a caller skipped the core's check. */
  async #requireTls(key: Secret | undefined, context: Context): Promise<void> {
    if (key && (await this.customerKeySupport()) !== "tls") throw customerKeyError("needs-tls", context);
  }
}
