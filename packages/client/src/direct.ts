import { createHash } from "node:crypto";
import { createWriteStream } from "node:fs";
import { Readable, Transform, type TransformCallback } from "node:stream";
import { pipeline } from "node:stream/promises";
import type { ReadableStream as WebReadableStream } from "node:stream/web";
import { status } from "@grpc/grpc-js";
import { clientError, StorageClientError } from "./errors.ts";
import { type DirectErrorCode, StoreUnreachable } from "./generated/direct/upload.ts";
import { corrupted } from "./transfer.ts";
import type { FileInfo, Transfer } from "./types.ts";

/**
 * When a file goes straight to or from the object store (presigned URLs the service issues after
 * its usual checks) rather than through the service, and the presigned GET of a direct download.
 * The upload itself is the shared driver in ./generated/direct (one implementation with the CLI).
 */

export const MiB = 1024 * 1024;
export const DEFAULT_DIRECT_THRESHOLD = 64 * MiB;

export interface DirectSettings {
  transfer: Transfer;
  threshold: number;
}

/**
 * "proxy": through the service. "direct": straight to the store, and nothing else. "auto": direct
 * for files of at least the threshold, the service otherwise and as the fallback. SSE-C and ranged
 * reads stay on the service (the URLs carry neither); forcing "direct" on them is refused.
 */
export function transferPlan(
  settings: DirectSettings,
  size: number,
  limits: { sseCustomerKey?: Uint8Array | undefined; range?: unknown },
): "proxy" | "direct" | "auto" {
  if (settings.transfer === "proxy") return "proxy";
  const unsupported = limits.sseCustomerKey
    ? "a customer-provided key (SSE-C)"
    : limits.range
      ? "a byte range"
      : undefined;
  if (settings.transfer === "direct") {
    if (unsupported) {
      throw clientError("INVALID_ARGUMENT", `transfer: "direct" cannot be used with ${unsupported}.`, {
        grpcCode: status.INVALID_ARGUMENT,
        details: { field: "transfer" },
      });
    }
    return "direct";
  }
  return unsupported || size < settings.threshold ? "proxy" : "auto";
}

/**
 * Whether "auto" may take the proxied path after this failure of the direct one: the service has no
 * upload sessions or presigned URLs (local backend), the key may not presign, or the store's
 * address is not reachable from here. Anything else is the answer.
 */
export const fallsBack = (err: unknown): boolean =>
  err instanceof StoreUnreachable ||
  (err instanceof StorageClientError &&
    (err.code === "UNSUPPORTED_OPERATION" || err.code === "PERMISSION_DENIED"));

const GRPC_CODES: Record<DirectErrorCode, status> = {
  PRECONDITION_FAILED: status.FAILED_PRECONDITION,
  UNAVAILABLE: status.UNAVAILABLE,
  INTERNAL: status.INTERNAL,
  INVALID_ARGUMENT: status.INVALID_ARGUMENT,
};

/** The shared driver's errors as this client's. */
export const directFail = (code: DirectErrorCode, message: string, details: Record<string, unknown> = {}) =>
  clientError(code, message, { grpcCode: GRPC_CODES[code], details });

/** Counts and hashes what passes, for the checks after the last byte. */
class Tally extends Transform {
  readonly hash = createHash("sha256");
  bytes = 0;
  readonly #onBytes: ((bytes: number) => void) | undefined;

  constructor(onBytes?: (bytes: number) => void) {
    super();
    this.#onBytes = onBytes;
  }

  override _transform(chunk: Buffer, _encoding: string, done: TransformCallback): void {
    this.bytes += chunk.length;
    this.hash.update(chunk);
    this.#onBytes?.(this.bytes);
    done(null, chunk);
  }
}

/**
 * GETs a presigned URL into `temp`, checking the length against `file.size` and (unless `verify` is
 * false) the bytes against the sha256 the service recorded. A connection that cannot be opened is
 * StoreUnreachable (the caller may go through the service instead).
 */
export async function downloadPresigned(
  url: string,
  temp: string,
  file: FileInfo,
  options: {
    verify: boolean;
    signal?: AbortSignal | undefined;
    onProgress?: ((transferred: number, total: number | undefined) => void) | undefined;
  },
): Promise<void> {
  let res: Response;
  try {
    res = await fetch(url, { signal: options.signal ?? null });
  } catch (err) {
    if (options.signal?.aborted) throw err;
    throw new StoreUnreachable(`The object store is not reachable: ${(err as Error).message}`, {
      cause: err,
    });
  }
  const where = { bucket: file.bucket, objectName: file.objectName, versionId: file.versionId };
  if (!res.ok || !res.body) {
    await res.body?.cancel().catch(() => {});
    const code = res.status === 404 ? "NOT_FOUND" : res.status >= 500 ? "UNAVAILABLE" : "INTERNAL";
    throw clientError(code, `The object store answered ${res.status} to the presigned download.`, {
      grpcCode:
        code === "NOT_FOUND"
          ? status.NOT_FOUND
          : code === "UNAVAILABLE"
            ? status.UNAVAILABLE
            : status.INTERNAL,
      details: { ...where, status: res.status },
    });
  }
  const onProgress = options.onProgress;
  const tally = new Tally(onProgress && ((bytes) => onProgress(bytes, file.size)));
  try {
    await pipeline(
      Readable.fromWeb(res.body as WebReadableStream<Uint8Array>),
      tally,
      createWriteStream(temp),
    );
  } catch (err) {
    if (options.signal?.aborted || err instanceof StorageClientError) throw err;
    throw clientError("UNAVAILABLE", `The presigned download broke off: ${(err as Error).message}`, {
      grpcCode: status.UNAVAILABLE,
      details: where,
      cause: err,
    });
  }
  if (tally.bytes !== file.size) {
    throw corrupted(`The download carried ${tally.bytes} bytes, not the recorded ${file.size}.`, where);
  }
  const digest = tally.hash.digest("hex");
  if (options.verify && file.sha256 && digest !== file.sha256) {
    throw corrupted(
      `The downloaded bytes have sha256 ${digest}, not the ${file.sha256} the service recorded: they changed on the way or in the store; do not use them.`,
      { ...where, sha256: file.sha256 },
    );
  }
}
