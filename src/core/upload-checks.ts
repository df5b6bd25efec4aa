import { StorageError } from "../errors.ts";
import { extensionOf, validateBucket, validateKey, validateMetadata } from "./keys.ts";
import type { StorageSettings } from "./storage-service.ts";
import type { UploadRequest } from "./types.ts";

/**
 * Everything an upload can be refused for before its first byte is read: names, metadata, the
 * extension allow-list, and the announced size and checksum. Returns the normalised names.
 */
export function checkUploadRequest(
  req: Omit<UploadRequest, "body">,
  settings: StorageSettings,
): { bucket: string; key: string; metadata: Record<string, string>; extension: string } {
  const bucket = validateBucket(req.bucket);
  const key = validateKey(req.key);
  const metadata = validateMetadata(req.metadata);
  const extension = extensionOf(key);
  checkExtension(settings, bucket, extension);
  const { maxFileSize } = settings;
  if (req.expectedSize !== undefined && (!Number.isSafeInteger(req.expectedSize) || req.expectedSize < 0)) {
    throw new StorageError("INVALID_ARGUMENT", "The expected size must be a whole number of bytes.", {
      field: "size",
    });
  }
  if (req.expectedSize !== undefined && req.expectedSize > maxFileSize) {
    throw new StorageError("TOO_LARGE", `The object is larger than the limit of ${maxFileSize} bytes.`, {
      limit: maxFileSize,
    });
  }
  if (req.expectedSha256 !== undefined && !/^[0-9a-fA-F]{64}$/.test(req.expectedSha256)) {
    throw new StorageError("INVALID_ARGUMENT", "The expected sha256 must be 64 hex characters.", {
      field: "sha256",
    });
  }
  return { bucket, key, metadata, extension };
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
