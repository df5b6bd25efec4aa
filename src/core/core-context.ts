import type { Logger } from "pino";
import type { ObjectHead, ObjectStore } from "../backends/object-store.ts";
import type { Config } from "../config/config.ts";
import type { Secret } from "../config/secret.ts";
import type { MetadataRepository, ObjectRecord } from "../metadata/repository.ts";
import { checkCustomerKey } from "./customer-key.ts";
import type { KnownBuckets } from "./known-buckets.ts";
import type { HashOptions } from "./sha256.ts";
import type { CustomerKeyOptions, ObjectInfo } from "./types.ts";

export type StorageSettings = Pick<
  Config["storage"],
  "maxFileSize" | "allowedExtensions" | "extensionCheckedBuckets" | "presign" | "hashThread" | "admission"
> &
  // Optional so settings built by hand (tests, tools) keep working: absent means defaults.
  Partial<Pick<Config["storage"], "maxFileSizeByBucket" | "multipart" | "uploadSessions">>;

/**
 * What the core's parts (write path, read path, index sync) share. StorageService builds it once
 * and hands it to them; nothing outside the core sees the store or the index through it, so the
 * object-then-row rule cannot be bypassed from above.
 */
export interface CoreContext {
  readonly store: ObjectStore;
  readonly index: MetadataRepository;
  readonly settings: StorageSettings;
  readonly log: Logger;
  readonly buckets: KnownBuckets;
  readonly hashing: HashOptions;
}

/** `{ sseCustomerKey }` only when there is one (exactOptionalPropertyTypes-friendly spreading). */
export const keyOption = (key: Secret | undefined): CustomerKeyOptions =>
  key ? { sseCustomerKey: key } : {};

export const sseC = (key: Secret | undefined) => (key ? { encryption: "SSE-C" as const } : {});

/**
 * A row describes a stored object only while they agree on its ETag and size. Another ETag means
 * the key was written around the service (a presigned PUT, a direct S3 write), even when the size
 * is the same: the row's sha256 is then about bytes that are gone, and is re-derived, never served.
 */
export const describes = (record: ObjectRecord | undefined, head: ObjectHead): record is ObjectRecord =>
  record !== undefined && record.etag === head.etag && record.size === head.size;

export const toInfo = (head: ObjectHead, record: ObjectRecord | undefined): ObjectInfo => ({
  bucket: head.bucket,
  key: head.key,
  versionId: head.versionId,
  size: head.size,
  etag: head.etag,
  contentType: head.contentType,
  metadata: head.metadata,
  lastModified: head.lastModified,
  ...(describes(record, head) ? { sha256: record.sha256, owner: record.owner } : {}),
  ...(head.encryption ? { encryption: head.encryption } : {}),
});

/** SSE-C keys are checked, and refused where the store cannot take them, before any byte moves. */
export async function checkCustomerKeyFor(
  core: CoreContext,
  key: Secret | undefined,
  context: { bucket: string; key: string },
): Promise<void> {
  if (key === undefined) return;
  checkCustomerKey(key, await core.store.customerKeySupport(), context);
}
