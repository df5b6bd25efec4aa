import type { Readable } from "node:stream";
import {
  AbortMultipartUploadCommand,
  CopyObjectCommand,
  CreateBucketCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  type S3Client,
} from "@aws-sdk/client-s3";
import { Upload } from "@aws-sdk/lib-storage";
import { getSignedUrl } from "@aws-sdk/s3-request-presigner";
import {
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
import { fromS3Error } from "./errors.ts";

export interface S3StoreOptions {
  /** Multipart part size in bytes (memory per in-flight part). */
  partSize: number;
  /** Parts uploaded at once per object. */
  queueSize: number;
  /** A bucket HEADed by ping(); a 404 still proves the store answers. */
  probeBucket: string;
}

const copySource = (bucket: string, key: string, versionId?: string) =>
  `${bucket}/${encodeURIComponent(key).replace(/%2F/g, "/")}${versionId ? `?versionId=${encodeURIComponent(versionId)}` : ""}`;

const parseTotal = (contentRange: string | undefined) => Number(contentRange?.split("/")[1] ?? Number.NaN);

/** ObjectStore over any S3-compatible service (MinIO, AWS S3, GCS interop) with the AWS SDK v3. */
export class S3Store implements ObjectStore {
  readonly kind = "s3" as const;
  readonly capabilities = { presign: true, versioning: true };
  readonly client: S3Client;
  readonly #options: S3StoreOptions;

  constructor(client: S3Client, options: S3StoreOptions) {
    this.client = client;
    this.#options = options;
  }

  async ping(signal?: AbortSignal): Promise<void> {
    try {
      await this.client.send(new HeadBucketCommand({ Bucket: this.#options.probeBucket }), {
        abortSignal: signal,
      });
    } catch (err) {
      const mapped = fromS3Error(err, {});
      if (mapped.code !== "NOT_FOUND") throw mapped;
    }
  }

  async bucketExists(bucket: string): Promise<boolean> {
    try {
      await this.client.send(new HeadBucketCommand({ Bucket: bucket }));
      return true;
    } catch (err) {
      const mapped = fromS3Error(err, { bucket });
      if (mapped.code === "NOT_FOUND") return false;
      throw mapped;
    }
  }

  async createBucket(bucket: string): Promise<void> {
    await this.#wrap(this.client.send(new CreateBucketCommand({ Bucket: bucket })), { bucket });
  }

  async put(bucket: string, key: string, body: Readable, options: PutOptions): Promise<PutResult> {
    const upload = new Upload({
      client: this.client,
      params: {
        Bucket: bucket,
        Key: key,
        Body: body,
        ContentType: options.contentType,
        Metadata: options.metadata,
      },
      partSize: this.#options.partSize,
      queueSize: this.#options.queueSize,
      leavePartsOnError: false,
    });
    if (options.onProgress) {
      const onProgress = options.onProgress;
      upload.on("httpUploadProgress", (p) => onProgress(p.loaded ?? 0));
    }
    // Cancel by failing the body: lib-storage then aborts the multipart upload before done() settles,
    // so a cancelled upload leaves no parts behind (upload.abort() would settle first).
    const onAbort = () => body.destroy(Object.assign(new Error("Upload cancelled."), { name: "AbortError" }));
    options.signal?.addEventListener("abort", onAbort, { once: true });
    try {
      if (options.signal?.aborted) onAbort();
      const result = await upload.done();
      return { etag: result.ETag ?? "", versionId: result.VersionId ?? NULL_VERSION };
    } catch (err) {
      throw fromS3Error(err, { bucket, key });
    } finally {
      options.signal?.removeEventListener("abort", onAbort);
    }
  }

  async get(bucket: string, key: string, options: GetOptions = {}): Promise<GetResult> {
    const range = options.range ? `bytes=${options.range.start}-${options.range.end ?? ""}` : undefined;
    const out = await this.#wrap(
      this.client.send(
        new GetObjectCommand({ Bucket: bucket, Key: key, VersionId: options.versionId, Range: range }),
        { abortSignal: options.signal },
      ),
      { bucket, key, versionId: options.versionId },
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
    };
    if (!options.range) return { head, contentLength, body };
    const start = options.range.start;
    return { head, contentLength, body, range: { start, end: start + contentLength - 1 } };
  }

  async head(bucket: string, key: string, versionId?: string): Promise<ObjectHead> {
    const out = await this.#wrap(
      this.client.send(new HeadObjectCommand({ Bucket: bucket, Key: key, VersionId: versionId })),
      {
        bucket,
        key,
        versionId,
      },
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
    };
  }

  async delete(bucket: string, key: string, versionId?: string): Promise<DeleteResult> {
    const out = await this.#wrap(
      this.client.send(new DeleteObjectCommand({ Bucket: bucket, Key: key, VersionId: versionId })),
      {
        bucket,
        key,
        versionId,
      },
    );
    return {
      deleteMarker: out.DeleteMarker === true,
      ...(out.VersionId ? { versionId: out.VersionId } : {}),
    };
  }

  async list(bucket: string, options: ListOptions = {}): Promise<ListPage> {
    const out = await this.#wrap(
      this.client.send(
        new ListObjectsV2Command({
          Bucket: bucket,
          Prefix: options.prefix || undefined,
          Delimiter: options.delimiter || undefined,
          ContinuationToken: options.cursor,
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
    source: { bucket: string; key: string; versionId?: string },
    target: { bucket: string; key: string },
  ): Promise<PutResult> {
    const out = await this.#wrap(
      this.client.send(
        new CopyObjectCommand({
          Bucket: target.bucket,
          Key: target.key,
          CopySource: copySource(source.bucket, source.key, source.versionId),
          MetadataDirective: "COPY",
        }),
      ),
      { bucket: source.bucket, key: source.key, versionId: source.versionId },
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
      throw fromS3Error(err, { bucket, key });
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

  async #wrap<T>(
    pending: Promise<T>,
    context: { bucket?: string; key?: string; versionId?: string },
  ): Promise<T> {
    try {
      return await pending;
    } catch (err) {
      throw fromS3Error(err, context);
    }
  }
}
