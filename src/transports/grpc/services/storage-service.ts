import type { handleUnaryCall, Metadata } from "@grpc/grpc-js";
import type { StorageService } from "../../../core/storage-service.ts";
import type { Logger } from "../../../log.ts";
import type { Security } from "../../../security/index.ts";
import type { StorageServiceHandlers } from "../generated/lumenslate/storage/v1/StorageService.ts";
import { customerKeyFromMetadata } from "../sse-c.ts";
import { type CallScope, type InFlight, openScope } from "./call-scope.ts";
import { fileInfo, summaryInfo, timestamp, writeResponse } from "./convert.ts";
import { downloadFile } from "./download.ts";
import { uploadFile } from "./upload.ts";

export interface StorageHandlerDeps {
  service: StorageService;
  security: Security;
  logger: Logger;
  inFlight: InFlight;
  maxMessageBytes: number;
}

/** A unary handler: run the core call, answer with its result or the mapped status. */
export function unary<Req, Res>(
  deps: Pick<StorageHandlerDeps, "logger" | "security" | "inFlight">,
  run: (request: Req, scope: CallScope, metadata: Metadata) => Promise<Res>,
): handleUnaryCall<Req, Res> {
  return (call, callback) => {
    const scope = openScope(call, deps.logger, deps.security);
    deps.inFlight.track(
      run(call.request, scope, call.metadata).then(
        (response) => {
          scope.answered();
          callback(null, response);
        },
        (err: unknown) => {
          scope.answered();
          callback(scope.status(err));
        },
      ),
    );
  };
}

/** `versionId` when the request names one (proto3 optional fields arrive as undefined otherwise). */
const version = (versionId: string | undefined) => (versionId === undefined ? {} : { versionId });

/**
 * lumenslate.storage.v1.StorageService on the storage core. Handlers translate messages, authorize
 * each call on its first message before touching the store (`scope.gate.allow`) and audit the
 * mutating ones (`scope.gate.mutation`); validation, limits and every other error code come from
 * the core.
 */
export function storageServiceHandlers(deps: StorageHandlerDeps): StorageServiceHandlers {
  const { service } = deps;
  return {
    UploadFile: uploadFile(deps),
    DownloadFile: downloadFile(deps),

    StatFile: unary(deps, async (req, { gate }, metadata) => {
      await gate.allow({
        action: "read",
        bucket: req.bucket,
        key: req.objectName,
        ...version(req.versionId),
        operation: "stat",
      });
      const info = await service.stat(
        req.bucket,
        req.objectName,
        req.versionId,
        customerKeyFromMetadata(metadata),
      );
      return { file: fileInfo(info) };
    }),

    DeleteFile: unary(deps, (req, { gate }) =>
      gate.mutation("delete", async (facts) => {
        Object.assign(facts, { bucket: req.bucket, key: req.objectName, ...version(req.versionId) });
        await gate.allow({
          action: "delete",
          bucket: req.bucket,
          key: req.objectName,
          ...version(req.versionId),
          operation: "delete",
        });
        const result = await service.delete(req.bucket, req.objectName, req.versionId);
        if (result.versionId) facts.versionId = result.versionId;
        facts.details = { deleteMarker: result.deleteMarker };
        return {
          success: true,
          message: result.deleteMarker ? "Delete marker added" : "File deleted",
          objectName: req.objectName,
          bucket: req.bucket,
          versionId: result.versionId ?? "",
          deleteMarker: result.deleteMarker,
        };
      }),
    ),

    ListFiles: unary(deps, async (req, { gate }) => {
      // The prefix is the key: a key scoped to a prefix may list inside it only.
      await gate.allow({ action: "list", bucket: req.bucket, key: req.prefix, operation: "list" });
      const page = await service.list(req.bucket, {
        prefix: req.prefix,
        recursive: req.recursive,
        ...(req.pageSize > 0 ? { limit: req.pageSize } : {}),
        ...(req.pageToken ? { cursor: req.pageToken } : {}),
      });
      return {
        files: page.objects.map((o) => summaryInfo(req.bucket, o)),
        prefixes: page.prefixes,
        nextPageToken: page.nextCursor ?? "",
      };
    }),

    GetFileUrl: unary(deps, (req, { gate }) =>
      gate.mutation("presign", async (facts) => {
        const method = req.method === "URL_METHOD_PUT" ? "PUT" : "GET";
        Object.assign(facts, {
          bucket: req.bucket,
          key: req.objectName,
          ...version(req.versionId),
          details: { method },
        });
        // A URL is the right it carries: presign plus the read or write it grants.
        await gate.allow({
          action: ["presign", method === "PUT" ? "write" : "read"],
          bucket: req.bucket,
          key: req.objectName,
          ...version(req.versionId),
          operation: "presign",
        });
        const url = await service.presign(req.bucket, req.objectName, {
          method,
          ...(req.expiresInSeconds !== undefined ? { expiresInSeconds: req.expiresInSeconds } : {}),
          ...version(req.versionId),
          ...(req.contentType !== undefined ? { contentType: req.contentType } : {}),
        });
        facts.details = { method, expiresAt: url.expiresAt.toISOString() };
        return {
          url: url.url,
          method: method === "PUT" ? "URL_METHOD_PUT" : "URL_METHOD_GET",
          expiresAt: timestamp(url.expiresAt),
        };
      }),
    ),

    CopyFile: unary(deps, (req, { gate, signal }) =>
      gate.mutation("copy", async (facts) => {
        Object.assign(facts, {
          bucket: req.targetBucket,
          key: req.targetObjectName,
          details: {
            sourceBucket: req.sourceBucket,
            sourceKey: req.sourceObjectName,
            ...(req.sourceVersionId !== undefined ? { sourceVersionId: req.sourceVersionId } : {}),
          },
        });
        await gate.allow({
          action: "read",
          bucket: req.sourceBucket,
          key: req.sourceObjectName,
          ...version(req.sourceVersionId),
          operation: "copy",
        });
        const principal = await gate.allow({
          action: "write",
          bucket: req.targetBucket,
          key: req.targetObjectName,
          operation: "copy",
        });
        const info = await service.copy(
          { bucket: req.sourceBucket, key: req.sourceObjectName, ...version(req.sourceVersionId) },
          { bucket: req.targetBucket, key: req.targetObjectName },
          principal.service,
          { signal },
        );
        Object.assign(facts, { versionId: info.versionId, bytes: info.size });
        return writeResponse(info, "File copied successfully");
      }),
    ),
  };
}
