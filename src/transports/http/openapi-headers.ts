import type { HeaderName } from "./openapi-operation.ts";

/** Header sets the object routes declare in their schemas (documentation; see headers.ts for the values). */

/** What objectHeaders() sets on every answer that describes a stored object. */
export const OBJECT_HEADERS: readonly HeaderName[] = [
  "etag",
  "last-modified",
  "x-version-id",
  "x-checksum-sha256",
  "x-meta-{name}",
];

/** A GET or HEAD of an object: its description, its length and how it may be ranged or saved. */
export const READ_HEADERS: readonly HeaderName[] = [
  ...OBJECT_HEADERS,
  "accept-ranges",
  "content-length",
  "content-disposition",
];

export const CONDITIONAL_HEADERS: readonly HeaderName[] = [
  "if-match",
  "if-none-match",
  "if-modified-since",
  "if-unmodified-since",
];

/** SSE-C: the object's customer-provided key, on every request that reads or writes its bytes. */
export const SSE_C_HEADERS: readonly HeaderName[] = [
  "x-amz-server-side-encryption-customer-algorithm",
  "x-amz-server-side-encryption-customer-key",
  "x-amz-server-side-encryption-customer-key-md5",
];
