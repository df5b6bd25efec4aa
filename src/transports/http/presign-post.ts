import { createPresignedPost } from "@aws-sdk/s3-presigned-post";
import type { AppContext } from "../../app.ts";
import { S3Store } from "../../backends/s3/s3-store.ts";
import { StorageError } from "../../errors.ts";

export interface PresignPostRequest {
  bucket: string;
  key: string;
  /** Exact Content-Type the form must carry. */
  contentType?: string;
  /** Or: a prefix it must start with ("image/"); "" allows any. */
  contentTypePrefix?: string;
  /** Largest accepted file in bytes (default and ceiling: the configured maximum file size). */
  maxSize?: number;
  expiresInSeconds?: number;
}

export interface PresignedPostPolicy {
  url: string;
  /** Form fields to send, in this order, before the file field (named `file`, last). */
  fields: Record<string, string>;
  maxSize: number;
  expiresAt: Date;
}

type PolicyCondition =
  | ["content-length-range", number, number]
  | ["eq", string, string]
  | ["starts-with", string, string];

/**
 * A browser upload policy (S3 POST Object): the object store itself enforces the key, the size
 * range and the content type, and the bytes never pass through this service. Such uploads are not
 * in the metadata index until `reconcile` adopts them, and are not content-sniffed.
 */
export async function presignPost(app: AppContext, req: PresignPostRequest): Promise<PresignedPostPolicy> {
  const store = app.store;
  if (!(store instanceof S3Store)) {
    throw new StorageError(
      "UNSUPPORTED_OPERATION",
      "Presigned POST policies need an S3-compatible backend (STORAGE_BACKEND=minio|s3|gcs).",
    );
  }
  const { presign } = app.config.storage;
  const maxFileSize = app.service.maxFileSize(req.bucket);
  const maxSize = req.maxSize ?? maxFileSize;
  if (maxSize > maxFileSize) {
    throw new StorageError("INVALID_ARGUMENT", `maxSize may be at most ${maxFileSize} bytes.`, {
      field: "maxSize",
      limit: maxFileSize,
    });
  }
  if ((req.contentType === undefined) === (req.contentTypePrefix === undefined)) {
    throw new StorageError("INVALID_ARGUMENT", "Give exactly one of contentType and contentTypePrefix.", {
      field: "contentType",
    });
  }
  const expires = req.expiresInSeconds ?? presign.defaultExpiry;
  // The core's presigned PUT makes exactly the checks a POST policy needs (bucket and key rules,
  // expiry bounds, the extension allow-list); signing is local, and that URL is discarded.
  await app.service.presign(req.bucket, req.key, { method: "PUT", expiresInSeconds: expires });

  const conditions: PolicyCondition[] = [["content-length-range", 0, maxSize]];
  const fields: Record<string, string> = {};
  if (req.contentType !== undefined) {
    conditions.push(["eq", "$Content-Type", req.contentType]);
    fields["Content-Type"] = req.contentType;
  } else {
    conditions.push(["starts-with", "$Content-Type", req.contentTypePrefix ?? ""]);
  }
  const post = await createPresignedPost(store.client, {
    Bucket: req.bucket,
    Key: req.key.normalize("NFC"),
    Conditions: conditions,
    Fields: fields,
    Expires: expires,
  }).catch((err: unknown) => {
    throw new StorageError(
      "INTERNAL",
      `Could not sign the POST policy: ${(err as Error).message}`,
      {},
      { cause: err },
    );
  });
  return { url: post.url, fields: post.fields, maxSize, expiresAt: new Date(Date.now() + expires * 1000) };
}
