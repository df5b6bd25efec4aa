import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  type S3Client,
  UploadPartCopyCommand,
} from "@aws-sdk/client-s3";
import { mapBounded } from "../../bounded.ts";
import type { Secret } from "../../config/secret.ts";
import { StorageError } from "../../errors.ts";
import { NULL_VERSION, type PutResult } from "../object-store.ts";
import { copySourceKeyParams, customerKeyParams } from "./customer-keys.ts";

/**
 * Server-side copy of objects too large for one CopyObject (S3 and MinIO cap it at 5 GiB): a
 * multipart upload on the target filled by UploadPartCopy of consecutive source byte ranges. Errors
 * leave as the SDK threw them (the store maps them, SSE-C refusals included), after the upload is
 * aborted so no parts stay behind.
 */

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;

/** S3's multipart limits (MinIO enforces the same): every part but the last at least 5 MiB. */
export const S3_PART_LIMITS = { minPartSize: 5 * MiB, maxPartSize: 5 * GiB, maxParts: 10_000 } as const;

/** Production defaults: one CopyObject up to 5 GiB, then 512 MiB parts, 4 at a time. */
export const COPY_DEFAULTS = { threshold: 5 * GiB, partSize: 512 * MiB, concurrency: 4 } as const;

/** One part of the copy: an inclusive byte range of the source. */
export interface PartRange {
  partNumber: number;
  start: number;
  end: number;
}

/**
 * Consecutive ranges covering [0, size). The part size is `partSize` raised to S3's minimum, and
 * grown (in whole MiB) when `size` would otherwise need more than 10,000 parts.
 */
export function planCopyParts(size: number, partSize: number): PartRange[] {
  if (!Number.isSafeInteger(size) || size < 0) throw new RangeError(`Invalid object size: ${size}`);
  const { minPartSize, maxPartSize, maxParts } = S3_PART_LIMITS;
  const fitsLimit = Math.ceil(size / maxParts / MiB) * MiB;
  const chosen = Math.max(Math.min(partSize, maxPartSize), minPartSize, fitsLimit);
  if (chosen > maxPartSize) {
    throw new StorageError("TOO_LARGE", "The object is too large for a multipart copy.", {
      limit: maxPartSize * maxParts,
    });
  }
  const parts: PartRange[] = [];
  for (let start = 0; start < size; start += chosen) {
    parts.push({ partNumber: parts.length + 1, start, end: Math.min(start + chosen, size) - 1 });
  }
  return parts;
}

/** `bucket/key[?versionId=…]` as the x-amz-copy-source header wants it. */
export const copySourceOf = (bucket: string, key: string, versionId?: string) =>
  `${bucket}/${encodeURIComponent(key).replace(/%2F/g, "/")}${versionId ? `?versionId=${encodeURIComponent(versionId)}` : ""}`;

export interface MultipartCopyRequest {
  /** The source as a HEAD saw it: its size, etag, type and metadata drive the copy. */
  source: {
    bucket: string;
    key: string;
    /** Pin a version so every part reads the same bytes (omit for unversioned buckets). */
    versionId?: string;
    size: number;
    etag: string;
    contentType: string;
    metadata: Record<string, string>;
    sseCustomerKey?: Secret;
  };
  target: { bucket: string; key: string; sseCustomerKey?: Secret };
  partSize: number;
  /** Parts copied at once. */
  concurrency: number;
  signal?: AbortSignal;
  /** Called with the bytes copied so far after each part. */
  onProgress?: (bytes: number) => void;
}

const cancelled = () => Object.assign(new Error("Copy cancelled."), { name: "AbortError" });

export async function multipartCopy(client: S3Client, req: MultipartCopyRequest): Promise<PutResult> {
  const { source, target, signal } = req;
  const parts = planCopyParts(source.size, req.partSize);
  if (signal?.aborted) throw cancelled();
  const targetKey = customerKeyParams(target.sseCustomerKey);
  const Bucket = target.bucket;
  const Key = target.key;
  // Multipart uploads start without the source's type and metadata (unlike CopyObject's
  // MetadataDirective COPY), so they are set here. No abort signal: a create cancelled in flight
  // could still open an upload whose id we would never learn.
  const created = await client.send(
    new CreateMultipartUploadCommand({
      Bucket,
      Key,
      ContentType: source.contentType,
      Metadata: source.metadata,
      ...targetKey,
    }),
  );
  const UploadId = created.UploadId;
  if (!UploadId) throw new StorageError("INTERNAL", "The object store returned no multipart upload id.");

  try {
    const etags = await copyParts(client, req, parts, { Bucket, Key, UploadId, ...targetKey });
    // Not cancellable in flight: the store might complete after we gave up and aborted.
    if (signal?.aborted) throw cancelled();
    const done = await client.send(
      new CompleteMultipartUploadCommand({
        Bucket,
        Key,
        UploadId,
        MultipartUpload: { Parts: parts.map((p, i) => ({ PartNumber: p.partNumber, ETag: etags[i] })) },
        ...targetKey,
      }),
    );
    return { etag: done.ETag ?? "", versionId: done.VersionId ?? NULL_VERSION };
  } catch (err) {
    // Best effort: if this fails too, the upload is left for listIncompleteUploads to sweep.
    await client.send(new AbortMultipartUploadCommand({ Bucket, Key, UploadId })).catch(() => {});
    throw signal?.aborted ? cancelled() : err;
  }
}

/**
 * Copies the parts, `concurrency` at a time, and returns their ETags in part order. The first
 * failure (or the caller's abort) stops the rest (in-flight requests are aborted) and is thrown once
 * all have settled, so no part request is still running when the caller aborts the upload.
 */
async function copyParts(
  client: S3Client,
  req: MultipartCopyRequest,
  parts: PartRange[],
  upload: { Bucket: string; Key: string; UploadId: string },
): Promise<string[]> {
  const { source } = req;
  const shared = {
    ...upload,
    CopySource: copySourceOf(source.bucket, source.key, source.versionId),
    // A source overwritten mid-copy fails the copy instead of mixing two objects' bytes.
    ...(source.etag ? { CopySourceIfMatch: source.etag } : {}),
    ...copySourceKeyParams(source.sseCustomerKey),
  };
  let copied = 0;
  return mapBounded(
    parts,
    req.concurrency,
    async (part, _index, stop) => {
      const out = await client.send(
        new UploadPartCopyCommand({
          ...shared,
          PartNumber: part.partNumber,
          CopySourceRange: `bytes=${part.start}-${part.end}`,
        }),
        { abortSignal: stop },
      );
      const etag = out.CopyPartResult?.ETag;
      if (!etag) throw new StorageError("INTERNAL", "The object store returned no ETag for a copied part.");
      copied += part.end - part.start + 1;
      req.onProgress?.(copied);
      return etag;
    },
    { signal: req.signal },
  );
}
