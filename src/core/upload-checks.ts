import type { WriteCondition } from "../backends/object-store.ts";
import { StorageError } from "../errors.ts";
import { checkExpiryMetadata } from "./expiry.ts";
import { extensionOf, validateBucket, validateKey, validateMetadata } from "./keys.ts";
import { sizeLimitFor, tooLarge } from "./size-limits.ts";
import type { StorageSettings } from "./storage-service.ts";
import type { UploadRequest } from "./types.ts";

/**
 * Everything an upload can be refused for before its first byte is read: names, metadata, the
 * extension allow-list, and the announced size and checksum. Returns the normalised names.
 */
export function checkUploadRequest(
  req: Omit<UploadRequest, "body">,
  settings: StorageSettings,
): {
  bucket: string;
  key: string;
  metadata: Record<string, string>;
  extension: string;
  condition: WriteCondition | undefined;
} {
  const bucket = validateBucket(req.bucket);
  const key = validateKey(req.key);
  const metadata = validateMetadata(req.metadata);
  checkExpiryMetadata(metadata);
  const extension = extensionOf(key);
  checkExtension(settings, bucket, extension);
  const limit = sizeLimitFor(settings, bucket);
  if (req.expectedSize !== undefined && (!Number.isSafeInteger(req.expectedSize) || req.expectedSize < 0)) {
    throw new StorageError("INVALID_ARGUMENT", "The expected size must be a whole number of bytes.", {
      field: "size",
    });
  }
  if (req.expectedSize !== undefined && req.expectedSize > limit.bytes) throw tooLarge(limit, bucket);
  if (req.expectedSha256 !== undefined && !/^[0-9a-fA-F]{64}$/.test(req.expectedSha256)) {
    throw new StorageError("INVALID_ARGUMENT", "The expected sha256 must be 64 hex characters.", {
      field: "sha256",
    });
  }
  return { bucket, key, metadata, extension, condition: writeConditionOf(req) };
}

const badCondition = (field: string, message: string) =>
  new StorageError("INVALID_ARGUMENT", message, { field });

/**
 * The upload's condition, refused when it is not one the stores can evaluate atomically: S3 takes
 * `If-None-Match: *` and `If-Match: <one etag>` on writes and nothing else (no tag lists, no
 * `If-Match: *`), and the two together could never both hold.
 */
export function writeConditionOf(
  req: Pick<UploadRequest, "ifMatch" | "ifNoneMatch">,
): WriteCondition | undefined {
  const { ifMatch, ifNoneMatch } = req;
  if (ifMatch !== undefined && ifNoneMatch !== undefined) {
    throw badCondition("if-match", "Send either If-Match or If-None-Match on an upload, not both.");
  }
  if (ifNoneMatch !== undefined) {
    if (ifNoneMatch.trim() !== "*") {
      throw badCondition(
        "if-none-match",
        'Uploads support only "If-None-Match: *" (store only if the object does not exist).',
      );
    }
    return { ifNoneMatch: "*" };
  }
  if (ifMatch === undefined) return undefined;
  const tag = ifMatch.trim();
  // One strong entity tag, quoted or bare: our ETags are never weak, and S3 compares just one.
  if (!/^"[^",]+"$/.test(tag) && !/^[^\s",*]+$/.test(tag)) {
    throw badCondition(
      "if-match",
      "If-Match on an upload takes exactly one entity tag, the current ETag of the object (no lists, no W/, no *).",
    );
  }
  return { ifMatch: tag.startsWith('"') ? tag : `"${tag}"` };
}

/** The extension allow-list, for the buckets it guards (STORAGE_ALLOWED_EXTENSIONS[_BUCKETS]). */
export function checkExtension(settings: StorageSettings, bucket: string, extension: string): void {
  const { extensionCheckedBuckets, allowedExtensions } = settings;
  if (allowedExtensions.length === 0) return;
  if (extensionCheckedBuckets !== "*" && !extensionCheckedBuckets.includes(bucket)) return;
  if (!allowedExtensions.includes(extension)) {
    throw new StorageError(
      "UNSUPPORTED_TYPE",
      `Files of type '.${extension || "(none)"}' are not accepted in bucket '${bucket}'. Allowed: ${allowedExtensions.join(", ")}.`,
      { bucket, field: "key" },
    );
  }
}
