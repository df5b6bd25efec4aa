import { createHash } from "node:crypto";
import type { Secret } from "../../config/secret.ts";
import { type ErrorCode, StorageError } from "../../errors.ts";
import type { CustomerKeyFailure } from "../object-store.ts";

/**
 * SSE-C on the wire: the three headers S3 wants with every request that touches an object stored
 * under a customer key (PutObject, each UploadPart, GetObject incl. ranges, HeadObject, both sides
 * of CopyObject), and the translation of S3's SSE-C refusals into StorageErrors that say what went
 * wrong. The key itself never reaches a message, a detail or a log: only `details.sseCustomerKey`.
 */

const md5 = (base64Key: string) =>
  createHash("md5").update(Buffer.from(base64Key, "base64")).digest("base64");

export function customerKeyParams(key: Secret | undefined) {
  if (!key) return {};
  const value = key.reveal();
  return { SSECustomerAlgorithm: "AES256", SSECustomerKey: value, SSECustomerKeyMD5: md5(value) };
}

export function copySourceKeyParams(key: Secret | undefined) {
  if (!key) return {};
  const value = key.reveal();
  return {
    CopySourceSSECustomerAlgorithm: "AES256",
    CopySourceSSECustomerKey: value,
    CopySourceSSECustomerKeyMD5: md5(value),
  };
}

const FAILURES: Record<CustomerKeyFailure, { code: ErrorCode; message: string }> = {
  required: {
    code: "INVALID_ARGUMENT",
    message: "The object is encrypted with a customer-provided key (SSE-C); send that key to use it.",
  },
  mismatch: {
    code: "PERMISSION_DENIED",
    message: "The customer-provided key (SSE-C) does not match the key the object was stored with.",
  },
  "not-applicable": {
    code: "INVALID_ARGUMENT",
    message: "The object is not encrypted with a customer-provided key (SSE-C); send no key.",
  },
  "needs-tls": {
    code: "PRECONDITION_FAILED",
    message: "SSE-C needs TLS to the object store (MINIO_SECURE=true); the key was not sent.",
  },
  unsupported: {
    code: "UNSUPPORTED_OPERATION",
    message: "This storage backend does not support customer-provided keys (SSE-C).",
  },
  invalid: {
    code: "INVALID_ARGUMENT",
    message: "The SSE-C key must be base64 of exactly 32 bytes (AES-256).",
  },
};

/** The StorageError for one SSE-C failure; `cause` is for logs (an SDK error never holds the key). */
export function customerKeyError(
  failure: CustomerKeyFailure,
  context: { bucket?: string; key?: string; versionId?: string },
  cause?: unknown,
): StorageError {
  const { code, message } = FAILURES[failure];
  return new StorageError(code, message, { ...context, sseCustomerKey: failure }, { cause });
}

/**
 * Reads an S3 error from a request that reads an existing object (GET, HEAD, copy source) as an
 * SSE-C failure, or undefined when it is something else. HEAD responses carry no body, so only the
 * status is known there: a 400 on HEAD of a well-formed key is S3's way to say "wrong SSE-C usage".
 */
export function readFailure(err: unknown, keySent: boolean): CustomerKeyFailure | undefined {
  const e = err as { name?: string; Code?: string; $metadata?: { httpStatusCode?: number } };
  const status = e.$metadata?.httpStatusCode;
  const name = e.Code ?? e.name;
  if (status === 400 && (name === "InvalidRequest" || name === "BadRequest" || name === "Unknown")) {
    return keySent ? "not-applicable" : "required";
  }
  if (status === 403 && keySent) return "mismatch";
  return undefined;
}

/**
 * An SDK error from a request that carried a customer key, without what would leak it: SDK errors
 * hold the raw response, whose socket still references the request with every header (the key
 * included), and a logger serialising `cause` would print it. Keeps what the mapping and logs need.
 */
export function withoutRequest(err: unknown, depth = 0): unknown {
  if (!(err instanceof Error) || depth > 4) return err;
  const source = err as Error & Record<string, unknown>;
  const safe = new Error(err.message) as Error & Record<string, unknown>;
  safe.name = err.name;
  safe.stack = err.stack;
  for (const field of ["Code", "code", "$metadata", "$fault"]) {
    if (source[field] !== undefined) safe[field] = source[field];
  }
  if (err.cause !== undefined) safe.cause = withoutRequest(err.cause, depth + 1);
  return safe;
}
