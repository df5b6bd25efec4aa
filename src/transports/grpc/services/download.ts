import { once } from "node:events";
import { Readable } from "node:stream";
import type { handleServerStreamingCall, ServerWritableStream } from "@grpc/grpc-js";
import type { StorageService } from "../../../core/storage-service.ts";
import type { Logger } from "../../../log.ts";
import { chunkByChunk } from "../../../pipe.ts";
import type { Security } from "../../../security/index.ts";
import { ChunkPieces } from "../chunk-pieces.ts";
import type { DownloadFileRequest__Output } from "../generated/lumenslate/storage/v1/DownloadFileRequest.ts";
import type { DownloadFileResponse } from "../generated/lumenslate/storage/v1/DownloadFileResponse.ts";
import { customerKeyFromMetadata } from "../sse-c.ts";
import { type CallScope, type InFlight, openScope } from "./call-scope.ts";
import { fileInfo } from "./convert.ts";

const KiB = 1024;
/** Reads are grouped up to this size: fewer, larger messages cost less per byte than the store's ~16 KiB reads. */
const TARGET_CHUNK = 256 * KiB;
const MAX_CHUNK = 1024 * KiB;
/** Room for the message's own framing within the max message size. */
const FRAMING = 64;

/**
 * Groups a byte stream's reads into messages of `target` to `max` bytes (the last may be shorter),
 * splitting a read larger than what is left of `max` without copying it. The pieces stay as they
 * are: the chunk-aware serializer (chunk-pieces.ts) copies them into the message once.
 */
export async function* regroup(
  source: AsyncIterable<Buffer>,
  target: number,
  max: number,
): AsyncGenerator<ChunkPieces> {
  let pieces: Buffer[] = [];
  let size = 0;
  for await (const read of source) {
    let piece = read;
    while (piece.length > 0) {
      const take = Math.min(piece.length, max - size);
      pieces.push(take === piece.length ? piece : piece.subarray(0, take));
      size += take;
      piece = piece.subarray(take);
      if (size >= target) {
        yield new ChunkPieces(pieces, size);
        pieces = [];
        size = 0;
      }
    }
  }
  if (size > 0) yield new ChunkPieces(pieces, size);
}

type Call = ServerWritableStream<DownloadFileRequest__Output, DownloadFileResponse>;

/** Writes one message, waiting for 'drain' when grpc-js's buffer is full: a slow reader slows us. */
export async function send<T>(
  call: ServerWritableStream<unknown, T>,
  message: T,
  signal: AbortSignal,
): Promise<void> {
  signal.throwIfAborted();
  if (!call.write(message)) await once(call, "drain", { signal });
}

/** The body's reads as they came (chunkByChunk), for regroup to pass on uncopied. */
function chunksOf(body: AsyncIterable<Buffer>): AsyncIterable<Buffer> {
  if (!(body instanceof Readable) || body.readableObjectMode) return body;
  return chunkByChunk(body);
}

/** Sends a byte stream as `{ chunk }` messages that fit the max message size, with flow control. */
export async function sendChunks<T extends { chunk?: Buffer }>(
  call: ServerWritableStream<unknown, T>,
  body: AsyncIterable<Buffer>,
  maxMessageBytes: number,
  signal: AbortSignal,
): Promise<void> {
  const max = Math.max(1, Math.min(MAX_CHUNK, maxMessageBytes - FRAMING));
  for await (const chunk of regroup(chunksOf(body), Math.min(TARGET_CHUNK, max), max)) {
    // Encoded as `{ chunk }` by the method's serializer, which register.ts makes chunk-aware.
    await send(call, chunk as unknown as T, signal);
  }
}

export interface DownloadDeps {
  service: StorageService;
  security: Security;
  logger: Logger;
  inFlight: InFlight;
  maxMessageBytes: number;
}

async function stream(call: Call, scope: CallScope, deps: DownloadDeps): Promise<void> {
  const req = call.request;
  await scope.gate.allow({
    action: "read",
    bucket: req.bucket,
    key: req.objectName,
    ...(req.versionId !== undefined ? { versionId: req.versionId } : {}),
    operation: "download",
  });
  const download = await deps.service.download(req.bucket, req.objectName, {
    ...(req.versionId !== undefined ? { versionId: req.versionId } : {}),
    ...(req.range
      ? { range: { start: req.range.start, ...(req.range.end !== undefined ? { end: req.range.end } : {}) } }
      : {}),
    signal: scope.signal,
    ...customerKeyFromMetadata(call.metadata),
  });
  try {
    await send(
      call,
      {
        header: {
          file: fileInfo(download.info),
          contentLength: download.contentLength,
          ...(download.range ? { range: download.range } : {}),
        },
      },
      scope.signal,
    );
    await sendChunks(call, download.body, deps.maxMessageBytes, scope.signal);
  } finally {
    download.body.destroy();
  }
  call.end();
}

/** A server-streaming handler: `run` writes and ends the call; a failure ends it with the mapped status. */
export function serverStreaming<Req, Res>(
  deps: Pick<DownloadDeps, "logger" | "security" | "inFlight">,
  run: (call: ServerWritableStream<Req, Res>, scope: CallScope) => Promise<void>,
): handleServerStreamingCall<Req, Res> {
  return (call) => {
    const scope = openScope(call, deps.logger, deps.security);
    deps.inFlight.track(
      run(call, scope).then(scope.answered, (err: unknown) => {
        scope.answered();
        // After a cancel nobody is listening; otherwise grpc-js ends the call with this status.
        if (!call.cancelled) call.emit("error", scope.status(err));
      }),
    );
  };
}

export function downloadFile(
  deps: DownloadDeps,
): handleServerStreamingCall<DownloadFileRequest__Output, DownloadFileResponse> {
  return serverStreaming(deps, (call, scope) => stream(call, scope, deps));
}
