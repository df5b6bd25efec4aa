import { createHash } from "node:crypto";
import type { CustomerKeySupport } from "../backends/object-store.ts";
import { Secret } from "../config/secret.ts";
import { StorageError } from "../errors.ts";

/**
 * SSE-C keys as the core takes them: a Secret holding the base64 of exactly 32 bytes (AES-256).
 * Transports build one with `customerKey()` from what the caller sent; the core checks it again and
 * refuses it before any byte moves when the store cannot take it safely. No message, detail or log
 * line ever carries the key: errors say only which rule failed (`details.sseCustomerKey`).
 */

export const CUSTOMER_KEY_BYTES = 32;

const invalid = (message: string) =>
  new StorageError("INVALID_ARGUMENT", message, { field: "sseCustomerKey", sseCustomerKey: "invalid" });

const md5Base64 = (bytes: Uint8Array) => createHash("md5").update(bytes).digest("base64");

/**
 * Wraps a caller's key: raw bytes (gRPC `bytes`) or their base64 (HTTP headers, as S3 sends it).
 * With `md5` (base64 of the key's MD5, S3's `…-customer-key-MD5`), a key damaged in transit is refused.
 */
export function customerKey(value: string | Uint8Array, md5?: string): Secret {
  const bytes = typeof value === "string" ? decode(value) : value;
  if (bytes.length !== CUSTOMER_KEY_BYTES) {
    throw invalid(`The SSE-C key must be exactly ${CUSTOMER_KEY_BYTES} bytes (AES-256).`);
  }
  if (md5 !== undefined && md5 !== md5Base64(bytes)) {
    throw invalid("The SSE-C key's MD5 does not match the key.");
  }
  return new Secret(Buffer.from(bytes).toString("base64"));
}

function decode(base64: string): Buffer {
  const bytes = Buffer.from(base64, "base64");
  // Buffer.from skips junk silently; a round trip proves the text was canonical base64.
  if (bytes.toString("base64") !== base64) {
    throw invalid(`The SSE-C key must be base64 of exactly ${CUSTOMER_KEY_BYTES} bytes.`);
  }
  return bytes;
}

/** Throws unless `key` is a well-formed SSE-C key and the store can take it without leaking it. */
export function checkCustomerKey(
  key: Secret,
  support: CustomerKeySupport,
  context: { bucket: string; key: string },
): void {
  if (!(key instanceof Secret)) throw invalid("The SSE-C key must be passed as a Secret.");
  customerKey(key.reveal()); // validates; the copy is dropped
  if (support === "unsupported") {
    throw new StorageError(
      "UNSUPPORTED_OPERATION",
      "This storage backend does not support customer-provided keys (SSE-C).",
      { ...context, sseCustomerKey: "unsupported" },
    );
  }
  if (support === "plaintext") {
    throw new StorageError(
      "PRECONDITION_FAILED",
      "SSE-C needs TLS to the object store (MINIO_SECURE=true); the key was not sent.",
      { ...context, sseCustomerKey: "needs-tls" },
    );
  }
}
