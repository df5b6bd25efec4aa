import { createHash } from "node:crypto";
import type { Metadata } from "@grpc/grpc-js";
import { customerKey } from "../../core/customer-key.ts";
import type { CustomerKeyOptions } from "../../core/types.ts";
import { StorageError } from "../../errors.ts";

/**
 * SSE-C (customer-provided keys) over gRPC. The key travels in call metadata under S3's own header
 * names, as over HTTP, never in a message: messages may be logged or traced, metadata is not (like
 * `authorization`), and the .proto stays as it is. Shared with the TypeScript client.
 */
export const SSE_C_KEY_METADATA = "x-amz-server-side-encryption-customer-key";
export const SSE_C_MD5_METADATA = "x-amz-server-side-encryption-customer-key-md5";

const repeated = () =>
  new StorageError("INVALID_ARGUMENT", "Send the SSE-C key and its MD5 at most once per call.", {
    field: "sseCustomerKey",
    sseCustomerKey: "invalid",
  });

/**
 * The one value of `key`, undefined only when it is absent. Two values are refused (picking one could
 * encrypt with a key the caller did not mean), and an empty one is passed on for the parser to
 * refuse: a caller who names a key must never get a plaintext object instead.
 */
function single(metadata: Metadata, key: string): string | undefined {
  const values = metadata.get(key);
  if (values.length > 1) throw repeated();
  const value = values[0];
  if (value === undefined) return undefined;
  return typeof value === "string" ? value : value.toString("latin1");
}

/**
 * The caller's SSE-C key from call metadata (base64 of 32 bytes, optional base64 MD5), as the core
 * takes it. Parsed by the core's `customerKey`, so a malformed key is the same INVALID_ARGUMENT as
 * over HTTP; the key is wrapped in a Secret at once and never reaches a message or log line.
 */
export function customerKeyFromMetadata(metadata: Metadata): CustomerKeyOptions {
  const value = single(metadata, SSE_C_KEY_METADATA);
  const md5 = single(metadata, SSE_C_MD5_METADATA);
  if (value === undefined) return {};
  return { sseCustomerKey: customerKey(value, md5) };
}

/** Sets the key and its MD5 on `metadata` (client side), replacing any earlier values. */
export function setCustomerKeyMetadata(metadata: Metadata, key: Uint8Array): void {
  metadata.set(SSE_C_KEY_METADATA, Buffer.from(key).toString("base64"));
  metadata.set(SSE_C_MD5_METADATA, createHash("md5").update(key).digest("base64"));
}
