import { Readable, type Writable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { type CallOptions, type Metadata, type ServiceError, status } from "@grpc/grpc-js";
import { toClientError } from "./errors.ts";
import type { DownloadFileHeader__Output } from "./generated/lumenslate/storage/v1/DownloadFileHeader.ts";
import type { DownloadFileRequest } from "./generated/lumenslate/storage/v1/DownloadFileRequest.ts";
import type { StorageServiceClient } from "./generated/lumenslate/storage/v1/StorageService.ts";
import type { UploadFileHeader } from "./generated/lumenslate/storage/v1/UploadFileHeader.ts";
import type { UploadFileResponse__Output } from "./generated/lumenslate/storage/v1/UploadFileResponse.ts";
import { REQUEST_ID_KEY } from "./generated/protocol.ts";
import { ChunkEncoder, corrupted, type DecodeOptions, DownloadDecoder } from "./transfer.ts";

/** grpc-js calls as promises and streams, with the client's errors and AbortSignal cancellation. */

/** Anything an upload accepts as the object's bytes. */
export type UploadBody = Readable | AsyncIterable<Uint8Array> | Iterable<Uint8Array> | Uint8Array | string;

export interface CallSetup {
  metadata: Metadata;
  options: CallOptions;
  signal: AbortSignal | undefined;
}

/** Cancels `call` when `signal` aborts; returns the function that stops listening. */
function cancelOnAbort(call: { cancel(): void }, signal: AbortSignal | undefined): () => void {
  if (!signal) return () => {};
  const onAbort = () => call.cancel();
  if (signal.aborted) call.cancel();
  else signal.addEventListener("abort", onAbort, { once: true });
  return () => signal.removeEventListener("abort", onAbort);
}

function toReadable(body: UploadBody): Readable {
  if (body instanceof Readable) return body;
  if (typeof body === "string" || body instanceof Uint8Array) return Readable.from([Buffer.from(body)]);
  return Readable.from(body, { objectMode: false });
}

const requestIdOf = (metadata: Metadata): string | undefined => {
  const value = metadata.get(REQUEST_ID_KEY)[0];
  return typeof value === "string" ? value : undefined;
};

/** A unary call as a promise. */
export function unaryCall<Res>(
  start: (callback: (err: ServiceError | null, res?: Res) => void) => { cancel(): void },
  signal: AbortSignal | undefined,
): Promise<Res> {
  return new Promise((resolve, reject) => {
    let stop = () => {};
    const call = start((err, res) => {
      stop();
      if (err || res === undefined) reject(toClientError(err ?? new Error("The server sent no response.")));
      else resolve(res);
    });
    stop = cancelOnAbort(call, signal);
  });
}

/**
 * UploadFile: the header, then `body` in chunk messages, through pipeline() so a slow server slows
 * the reading of `body`. Resolves with the server's answer once its sha256 is that of the bytes
 * sent (checked here only for an upload that announced none: the service checks an announced one).
 * On failure `body` is destroyed.
 */
export function uploadCall(
  raw: StorageServiceClient,
  body: UploadBody,
  header: UploadFileHeader,
  setup: CallSetup,
  chunkSize: number,
  onProgress?: (transferred: number, total: number | undefined) => void,
): Promise<UploadFileResponse__Output> {
  const source = toReadable(body);
  let sent = 0;
  const total = typeof header.expectedSize === "number" ? header.expectedSize : undefined;
  const onChunk =
    onProgress &&
    ((bytes: number) => {
      sent += bytes;
      onProgress(sent, total);
    });
  // An announced sha256 the service checks itself before storing: hashing again here would only
  // cost CPU (a lot of it, for a large object).
  const encoder = new ChunkEncoder(chunkSize, onChunk, { hash: header.sha256 === undefined });
  return new Promise((resolve, reject) => {
    let localError: unknown;
    let stop = () => {};
    const call = raw.uploadFile(setup.metadata, setup.options, (err, res) => {
      stop();
      if (!err && res) {
        const sent = encoder.sha256;
        if (res.sha256 && sent !== undefined && res.sha256 !== sent) {
          const message = `The service stored sha256 ${res.sha256}, but ${sent} was sent; the stored object is not what was uploaded.`;
          const details = { bucket: res.bucket, objectName: res.objectName, sha256: res.sha256 };
          reject(corrupted(message, details, requestIdOf(setup.metadata)));
          return;
        }
        resolve(res);
        return;
      }
      source.destroy();
      // A failure of our own source cancels the call: report the source's error, not the cancel.
      const cause = localError && err?.code === status.CANCELLED ? localError : err;
      reject(toClientError(cause ?? new Error("The server sent no response."), requestIdOf(setup.metadata)));
    });
    stop = cancelOnAbort(call, setup.signal);
    call.write({ header });
    pipeline(source, encoder, call as unknown as Writable).catch((err: unknown) => {
      localError = err;
      call.cancel(); // a no-op if the server already answered; the callback reports either way
    });
  });
}

/**
 * DownloadFile: resolves with the header and the bytes as a Readable once the header arrives.
 * Reading slowly slows the server (grpc-js reads from HTTP/2 only as the stream is read);
 * destroying the stream cancels the call.
 */
export async function downloadCall(
  raw: StorageServiceClient,
  request: DownloadFileRequest,
  setup: CallSetup,
  decoding: Omit<DecodeOptions, "requestId">,
): Promise<{ header: DownloadFileHeader__Output; stream: Readable }> {
  const call = raw.downloadFile(request, setup.metadata, setup.options);
  const requestId = requestIdOf(setup.metadata);
  const decoder = new DownloadDecoder({ ...decoding, ...(requestId ? { requestId } : {}) });
  const stop = cancelOnAbort(call, setup.signal);
  call.on("error", (err) => decoder.destroy(toClientError(err, requestId)));
  decoder.once("close", () => {
    stop();
    if (!decoder.readableEnded) call.cancel(); // the reader gave up: stop the server too
  });
  call.pipe(decoder);
  // Until the caller has the stream, a failure is reported through the returned promise only.
  const unobserved = () => {};
  decoder.on("error", unobserved);
  const header = await decoder.header.finally(() => decoder.off("error", unobserved));
  return { header, stream: decoder };
}
