import type { handleClientStreamingCall } from "@grpc/grpc-js";
import type { Logger } from "../../../log.ts";
import type { Security } from "../../../security/index.ts";
import type { TempStore } from "../../../stores/temp/types.ts";
import type { Timestamp__Output } from "../generated/google/protobuf/Timestamp.ts";
import type { TempStorageServiceHandlers } from "../generated/lumenslate/storage/v1/TempStorageService.ts";
import type { TempUploadHeader__Output } from "../generated/lumenslate/storage/v1/TempUploadHeader.ts";
import type { UploadTempFileRequest__Output } from "../generated/lumenslate/storage/v1/UploadTempFileRequest.ts";
import type { UploadTempFileResponse } from "../generated/lumenslate/storage/v1/UploadTempFileResponse.ts";
import type { InFlight } from "./call-scope.ts";
import { fileInfo, timestamp } from "./convert.ts";
import { send, sendChunks, serverStreaming } from "./download.ts";
import { unary } from "./storage-service.ts";
import { serveUpload } from "./upload.ts";

export interface TempHandlerDeps {
  temp: TempStore;
  security: Security;
  logger: Logger;
  inFlight: InFlight;
  maxMessageBytes: number;
}

const fromTimestamp = (t: Timestamp__Output): Date => new Date(Number(t.seconds) * 1000 + t.nanos / 1e6);

/**
 * lumenslate.storage.v1.TempStorageService on the temp store (stores/temp). Each handler
 * authorizes on the object's key in the temp bucket (the sweep: admin on the bucket) before the
 * store is asked anything; uploads and sweeps are audited. TTL rules and the refusal of expired
 * objects come from the store and the core.
 */
export function tempStorageHandlers(deps: TempHandlerDeps): TempStorageServiceHandlers {
  const { temp } = deps;
  return {
    UploadTempFile: uploadTempFile(deps),

    DownloadTempFile: serverStreaming(deps, async (call, scope) => {
      const key = call.request.objectName;
      await scope.gate.allow({ action: "read", bucket: temp.bucket, key, operation: "temp.get" });
      const got = await temp.get(key, { signal: scope.signal });
      try {
        await send(
          call,
          { header: { file: fileInfo(got.info), expiresAt: timestamp(got.expiresAt) } },
          scope.signal,
        );
        await sendChunks(call, got.body, deps.maxMessageBytes, scope.signal);
      } finally {
        got.body.destroy();
      }
      call.end();
    }),

    SweepTemp: unary(deps, async (req, { gate }) => {
      const sweep = () =>
        temp.sweep({ dryRun: req.dryRun, ...(req.batchSize > 0 ? { batchSize: req.batchSize } : {}) });
      const allow = () => gate.allow({ action: "admin", bucket: temp.bucket, operation: "temp.sweep" });
      // A dry run changes nothing: no audit record, like a read (as POST /v1/admin/temp/sweep).
      if (req.dryRun) {
        await allow();
        return sweep();
      }
      return gate.mutation("temp.sweep", async (facts) => {
        facts.bucket = temp.bucket;
        await allow();
        const report = await sweep();
        facts.bytes = report.bytes;
        facts.details = { deleted: report.deleted, gone: report.gone, failed: report.failed };
        return report;
      });
    }),
  };
}

/** Header, then chunks (as UploadFile), into the temp bucket with the header's expiry. */
function uploadTempFile(
  deps: TempHandlerDeps,
): handleClientStreamingCall<UploadTempFileRequest__Output, UploadTempFileResponse> {
  return (...call) =>
    serveUpload<TempUploadHeader__Output, UploadTempFileRequest__Output, UploadTempFileResponse>(deps, call, {
      method: "UploadTempFile",
      operation: "temp.put",
      audit: (header, facts) => {
        Object.assign(facts, { bucket: deps.temp.bucket, key: header.objectName });
      },
      store: async (header, decoder, scope, facts) => {
        // Authorized on the header, before the store sees a byte: a refused upload writes nothing.
        const principal = await scope.gate.allow({
          action: "write",
          bucket: deps.temp.bucket,
          key: header.objectName,
          operation: "temp.put",
        });
        const stored = await deps.temp.put({
          key: header.objectName,
          body: decoder,
          owner: principal.service,
          metadata: header.metadata,
          ...(header.ttlSeconds !== undefined ? { ttlSeconds: Number(header.ttlSeconds) } : {}),
          ...(header.expiresAt ? { expiresAt: fromTimestamp(header.expiresAt) } : {}),
          ...(header.contentType ? { contentType: header.contentType } : {}),
          ...(header.expectedSize !== undefined ? { expectedSize: Number(header.expectedSize) } : {}),
          signal: scope.signal,
        });
        Object.assign(facts, {
          key: stored.info.key,
          versionId: stored.info.versionId,
          bytes: stored.info.size,
          details: { expiresAt: stored.expiresAt.toISOString() },
        });
        return { file: fileInfo(stored.info), expiresAt: timestamp(stored.expiresAt) };
      },
    });
}
