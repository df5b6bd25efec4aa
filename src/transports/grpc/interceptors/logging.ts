import {
  Metadata,
  ResponderBuilder,
  ServerInterceptingCall,
  type ServerInterceptor,
  ServerListenerBuilder,
  status,
} from "@grpc/grpc-js";
import type { Logger } from "../../../log.ts";
import { safeRequestId } from "../../../security/request-id.ts";
import { ChunkPieces } from "../chunk-pieces.ts";
import { deadlinePassed } from "../deadline.ts";
import type { GrpcMetrics } from "../metrics.ts";
import { ERROR_CODE_KEY, REQUEST_ID_KEY, statusName } from "../status.ts";

/** Calls logged at debug level: probes come every few seconds and would drown everything else. */
const QUIET_PREFIXES = ["/grpc.health.v1.", "/grpc.reflection."];

/** Bytes of object data in a message: the `chunk` of upload and download messages, else 0. */
const chunkBytes = (message: unknown): number => {
  if (message instanceof ChunkPieces) return message.size;
  const chunk = (message as { chunk?: unknown } | null)?.chunk;
  return chunk instanceof Uint8Array ? chunk.byteLength : 0;
};

/**
 * The request id of a call: the caller's `x-request-id` when it is safe to echo and log (the rule
 * HTTP applies too, see security/request-id.ts: bounded, plain characters, never an API key),
 * else a new UUID.
 */
export const requestIdOf = (metadata: Metadata): string => safeRequestId(metadata.get(REQUEST_ID_KEY)[0]);

/**
 * One structured log line and one metrics observation per call, whatever the service (storage,
 * health, reflection). Sets `x-request-id` on the incoming metadata (so handlers log the same id)
 * and echoes it to the caller. Must be the innermost interceptor (first in the server's list) so it
 * also sees the statuses that other interceptors send, such as the rate limiter's.
 *
 * A call ended by grpc-js itself (deadline, client cancel, oversized message) never reaches
 * sendStatus here; it is logged when the cancel arrives, as DEADLINE_EXCEEDED if the deadline has
 * (as good as) passed and CANCELLED otherwise.
 */
export function loggingInterceptor(logger: Logger, metrics: GrpcMetrics): ServerInterceptor {
  return (descriptor, call) => {
    const method = descriptor.path;
    const quiet = QUIET_PREFIXES.some((p) => method.startsWith(p));
    const started = process.hrtime.bigint();
    let requestId = "";
    let credentials = false;
    let bucket: string | undefined;
    let messages = 0;
    let bytesIn = 0;
    let bytesOut = 0;
    let headersSent = false;
    let finished = false;

    const finish = (code: status, errorCode: string | undefined, details: string | undefined) => {
      if (finished) return;
      finished = true;
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      const codeName = statusName(code);
      metrics.requests.inc({ method, code: codeName });
      metrics.duration.observe({ method, code: codeName }, seconds);
      if (bytesIn > 0) metrics.bytes.inc({ method, direction: "in" }, bytesIn);
      if (bytesOut > 0) metrics.bytes.inc({ method, direction: "out" }, bytesOut);
      if (bucket) metrics.app.observeBucketCall("grpc", bucket, bytesIn, bytesOut);
      metrics.app.observeRefusal("grpc", errorCode, credentials);
      const line = {
        requestId: requestId || undefined,
        method,
        ...(bucket ? { bucket } : {}),
        code: codeName,
        errorCode,
        durationMs: Math.round(seconds * 1e4) / 10,
        bytesIn,
        bytesOut,
        peer: call.getPeer(),
        ...(code !== status.OK && details ? { message: details } : {}),
      };
      if (code === status.INTERNAL || code === status.UNKNOWN || code === status.DATA_LOSS) {
        logger.error(line, "grpc call");
      } else if (quiet) logger.debug(line, "grpc call");
      else logger.info(line, "grpc call");
    };

    const listener = new ServerListenerBuilder()
      .withOnReceiveMetadata((metadata, next) => {
        requestId = requestIdOf(metadata);
        credentials = metadata.get("authorization").length > 0;
        metadata.set(REQUEST_ID_KEY, requestId);
        next(metadata);
      })
      .withOnReceiveMessage((message, next) => {
        if (messages++ === 0) bucket = metrics.bucketOf(method, message);
        bytesIn += chunkBytes(message);
        next(message);
      })
      .withOnCancel(() => {
        const code = deadlinePassed(call.getDeadline()) ? status.DEADLINE_EXCEEDED : status.CANCELLED;
        finish(code, statusName(code), undefined);
      })
      .build();

    const responder = new ResponderBuilder()
      .withStart((next) => next(listener))
      .withSendMetadata((metadata, next) => {
        headersSent = true;
        if (requestId) metadata.set(REQUEST_ID_KEY, requestId);
        next(metadata);
      })
      .withSendMessage((message, next) => {
        bytesOut += chunkBytes(message);
        next(message);
      })
      .withSendStatus((sent, next) => {
        const errorCode = sent.metadata?.get(ERROR_CODE_KEY)[0];
        finish(sent.code, typeof errorCode === "string" ? errorCode : undefined, sent.details);
        if (!headersSent && requestId) {
          const metadata = sent.metadata?.clone() ?? new Metadata();
          metadata.set(REQUEST_ID_KEY, requestId);
          next({ ...sent, metadata });
        } else next(sent);
      })
      .build();

    return new ServerInterceptingCall(call, responder);
  };
}
