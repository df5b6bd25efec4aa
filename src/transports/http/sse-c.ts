import type { IncomingHttpHeaders } from "node:http";
import { customerKey } from "../../core/customer-key.ts";
import type { CustomerKeyOptions } from "../../core/types.ts";

/** S3's own header names for customer-provided keys (SSE-C), so S3 tooling habits carry over. */
export const SSE_C_KEY_HEADER = "x-amz-server-side-encryption-customer-key";
export const SSE_C_MD5_HEADER = "x-amz-server-side-encryption-customer-key-md5";

const single = (value: string | string[] | undefined) => (Array.isArray(value) ? undefined : value);

/**
 * The caller's SSE-C key (base64 of 32 bytes, optional base64 MD5), as the core takes it. The key
 * is wrapped at once, so it never reaches a log line or an error. A repeated header counts as absent.
 */
export function customerKeyFromHeaders(headers: IncomingHttpHeaders): CustomerKeyOptions {
  const value = single(headers[SSE_C_KEY_HEADER]);
  if (!value) return {};
  return { sseCustomerKey: customerKey(value, single(headers[SSE_C_MD5_HEADER])) };
}
