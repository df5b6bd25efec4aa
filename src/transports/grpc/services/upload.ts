import { Transform, type TransformCallback } from "node:stream";
import type { handleClientStreamingCall, Metadata } from "@grpc/grpc-js";
import type { StorageService } from "../../../core/storage-service.ts";
import { StorageError } from "../../../errors.ts";
import type { Logger } from "../../../log.ts";
import { pipeInto } from "../../../pipe.ts";
import type { Security } from "../../../security/index.ts";
import type { UploadFileHeader__Output } from "../generated/lumenslate/storage/v1/UploadFileHeader.ts";
import type { UploadFileRequest__Output } from "../generated/lumenslate/storage/v1/UploadFileRequest.ts";
import type { UploadFileResponse } from "../generated/lumenslate/storage/v1/UploadFileResponse.ts";
import { customerKeyFromMetadata } from "../sse-c.ts";
import { type CallScope, type InFlight, openScope } from "./call-scope.ts";
import { writeResponse } from "./convert.ts";
import type { AuditFacts } from "./gate.ts";

const invalid = (message: string) => new StorageError("INVALID_ARGUMENT", message, { field: "payload" });

/**
 * A conditional write from call metadata, under the HTTP header names (`if-none-match: *`,
 * `if-match: <etag>`) so the .proto stays as it is; the core validates the values. Repeated
 * values are joined into a list, which the core refuses rather than picking one.
 */
export function conditionFromMetadata(metadata: Metadata): { ifMatch?: string; ifNoneMatch?: string } {
  const one = (name: string) => {
    const values = metadata.get(name).map((v) => (typeof v === "string" ? v : v.toString("latin1")));
    return values.length > 0 ? values.join(", ") : undefined;
  };
  const ifMatch = one("if-match");
  const ifNoneMatch = one("if-none-match");
  return {
    ...(ifMatch !== undefined ? { ifMatch } : {}),
    ...(ifNoneMatch !== undefined ? { ifNoneMatch } : {}),
  };
}

/** A request stream's message: a header first, then chunks (UploadFile, UploadGeneratedCode). */
export interface HeaderThenChunks<H> {
  header?: H | null;
  chunk?: Buffer;
  payload?: "header" | "chunk";
}

/**
 * Turns a header-then-chunks message stream (UploadFile by default) into the object's bytes: the
 * first message must be the header (exposed as `header`), every later one a chunk. Piped from the
 * call, it keeps gRPC flow control intact: when the core stops reading, this buffer fills, the
 * call stops asking grpc-js for messages, and HTTP/2 window updates stop reaching the client.
 */
export class UploadDecoder<H = UploadFileHeader__Output> extends Transform {
  readonly header: Promise<H>;
  #resolve!: (header: H) => void;
  #reject!: (err: Error) => void;
  #gotHeader = false;
  #received = 0;
  readonly #signal: AbortSignal | undefined;
  readonly #method: string;

  /** `signal`: the call's, aborted when the client cancels (see _flush); `method` names it in errors. */
  constructor(signal?: AbortSignal, method = "UploadFile") {
    super({ writableObjectMode: true, writableHighWaterMark: 2, readableHighWaterMark: 1024 * 1024 });
    this.#signal = signal;
    this.#method = method;
    this.header = new Promise((resolve, reject) => {
      this.#resolve = resolve;
      this.#reject = reject;
    });
    this.header.catch(() => {}); // observed by whoever awaits it; never an unhandled rejection
  }

  override _transform(message: HeaderThenChunks<H>, _encoding: string, done: TransformCallback): void {
    if (!this.#gotHeader) {
      if (message.payload !== "header" || !message.header) {
        done(invalid(`The first ${this.#method} message must carry the header.`));
        return;
      }
      this.#gotHeader = true;
      this.#resolve(message.header);
      done();
      return;
    }
    if (message.payload !== "chunk") {
      done(invalid(`Only the first ${this.#method} message may carry a header.`));
      return;
    }
    const chunk = message.chunk;
    this.#received += chunk?.length ?? 0;
    done(null, chunk && chunk.length > 0 ? chunk : undefined);
  }

  /** Object bytes taken from the stream so far (for the audit record of a failed upload). */
  get received(): number {
    return this.#received;
  }

  override _flush(done: TransformCallback): void {
    if (!this.#gotHeader) {
      done(invalid(`The ${this.#method} stream ended before its header.`));
      return;
    }
    // Node's HTTP/2 server ends a flowing request stream cleanly just before it reports the
    // client's RST_STREAM (a cancel or an expired client deadline), so grpc-js delivers a
    // half-close first and the cancel a few ticks later. Trust the end only once the cancel would
    // have arrived; otherwise a cancelled upload would be stored truncated.
    setImmediate(() =>
      done(this.#signal?.aborted ? new StorageError("CANCELLED", "The upload was cancelled.") : null),
    );
  }

  override _destroy(err: Error | null, done: (err?: Error | null) => void): void {
    // Every decoder is destroyed once it ended; only one closed before its header leaves a waiter.
    if (!this.#gotHeader) this.#reject(err ?? new StorageError("CANCELLED", "The upload stream was closed."));
    done(err);
  }
}

/** What every header-then-chunks upload handler needs from the server. */
export interface StreamedUploadDeps {
  security: Security;
  logger: Logger;
  inFlight: InFlight;
}

/**
 * The one shape of a header-then-chunks upload call (UploadFile, UploadTempFile, UploadUserFile,
 * UploadGeneratedCode): the messages feed an UploadDecoder, the call is one audited mutation whose
 * target `audit` fills in from the header, `store` authorizes on the header before a byte reaches
 * the store and streams the decoder into it, and the answer goes out once the work (tracked for
 * shutdown) is done. Bytes received are recorded on failure; a failed call's decoder is destroyed.
 */
export function serveUpload<H, Req, Res>(
  deps: StreamedUploadDeps,
  [call, callback]: Parameters<handleClientStreamingCall<Req, Res>>,
  spec: {
    method?: string;
    operation: string;
    audit(header: H, facts: AuditFacts): void;
    store(header: H, decoder: UploadDecoder<H>, scope: CallScope, facts: AuditFacts): Promise<Res>;
  },
): void {
  const scope = openScope(call, deps.logger, deps.security);
  const decoder = new UploadDecoder<H>(scope.signal, spec.method);
  // Errors surface through the decoder (and so the store); the call itself needs no handling.
  pipeInto(call, decoder);
  const work = scope.gate.mutation(spec.operation, async (facts) => {
    const header = await decoder.header;
    spec.audit(header, facts);
    try {
      return await spec.store(header, decoder, scope, facts);
    } catch (err) {
      facts.bytes ??= decoder.received;
      throw err;
    }
  });
  deps.inFlight.track(
    work.then(
      (response) => {
        scope.answered();
        callback(null, response);
      },
      (err: unknown) => {
        decoder.destroy();
        scope.answered();
        callback(scope.status(err));
      },
    ),
  );
}

export interface UploadDeps {
  service: StorageService;
  security: Security;
  logger: Logger;
  inFlight: InFlight;
}

export function uploadFile(
  deps: UploadDeps,
): handleClientStreamingCall<UploadFileRequest__Output, UploadFileResponse> {
  return (...call) => {
    const condition = conditionFromMetadata(call[0].metadata);
    serveUpload<UploadFileHeader__Output, UploadFileRequest__Output, UploadFileResponse>(deps, call, {
      operation: "upload",
      audit: (header, facts) => {
        Object.assign(facts, { bucket: header.bucket, key: header.objectName });
        if (condition.ifNoneMatch !== undefined) facts.details = { condition: "if-none-match" };
        else if (condition.ifMatch !== undefined) facts.details = { condition: "if-match" };
      },
      store: async (header, decoder, scope, facts) => {
        // Authorized on the header, before the store sees a byte: a refused upload writes nothing.
        const principal = await scope.gate.allow({
          action: "write",
          bucket: header.bucket,
          key: header.objectName,
          operation: "upload",
        });
        const info = await deps.service.upload({
          bucket: header.bucket,
          key: header.objectName,
          body: decoder,
          ...(header.contentType ? { contentType: header.contentType } : {}),
          metadata: header.metadata,
          ...(header.expectedSize !== undefined ? { expectedSize: header.expectedSize } : {}),
          ...(header.sha256 !== undefined ? { expectedSha256: header.sha256 } : {}),
          signal: scope.signal,
          owner: principal.service,
          // SSE-C key from metadata, parsed after authorization (as over HTTP); a bad one writes nothing.
          ...customerKeyFromMetadata(call[0].metadata),
          ...condition,
        });
        Object.assign(facts, { versionId: info.versionId, bytes: info.size });
        if (scope.signal.aborted) {
          // The cancel arrived while the object was being committed: the caller was told CANCELLED
          // (or DEADLINE_EXCEEDED), so the version it does not know about must not stay.
          await deps.service.delete(info.bucket, info.key, info.versionId).catch((err: unknown) => {
            scope.log.error(
              { err, bucket: info.bucket, key: info.key },
              "grpc: removing a cancelled upload failed",
            );
          });
          throw scope.signal.reason;
        }
        return writeResponse(info, "File uploaded successfully");
      },
    });
  };
}
