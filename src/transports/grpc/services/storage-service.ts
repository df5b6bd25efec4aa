import type { handleUnaryCall } from "@grpc/grpc-js";
import type { StorageService } from "../../../core/storage-service.ts";
import type { Logger } from "../../../log.ts";
import type { StorageServiceHandlers } from "../generated/lumenslate/storage/v1/StorageService.ts";
import { type CallScope, type InFlight, openScope } from "./call-scope.ts";
import { fileInfo, summaryInfo, timestamp, writeResponse } from "./convert.ts";
import { downloadFile } from "./download.ts";
import { uploadFile } from "./upload.ts";

export interface StorageHandlerDeps {
  service: StorageService;
  logger: Logger;
  inFlight: InFlight;
  maxMessageBytes: number;
}

/** A unary handler: run the core call, answer with its result or the mapped status. */
function unary<Req, Res>(
  deps: StorageHandlerDeps,
  run: (request: Req, scope: CallScope) => Promise<Res>,
): handleUnaryCall<Req, Res> {
  return (call, callback) => {
    const scope = openScope(call, deps.logger);
    deps.inFlight.track(
      run(call.request, scope).then(
        (response) => callback(null, response),
        (err: unknown) => callback(scope.status(err)),
      ),
    );
  };
}

/**
 * lumenslate.storage.v1.StorageService on the storage core. Handlers translate messages and
 * nothing else: validation, limits and every error code come from the core.
 */
export function storageServiceHandlers(deps: StorageHandlerDeps): StorageServiceHandlers {
  const { service } = deps;
  return {
    UploadFile: uploadFile(deps),
    DownloadFile: downloadFile(deps),

    StatFile: unary(deps, async (req) => ({
      file: fileInfo(await service.stat(req.bucket, req.objectName, req.versionId)),
    })),

    DeleteFile: unary(deps, async (req) => {
      const result = await service.delete(req.bucket, req.objectName, req.versionId);
      return {
        success: true,
        message: result.deleteMarker ? "Delete marker added" : "File deleted",
        objectName: req.objectName,
        bucket: req.bucket,
        versionId: result.versionId ?? "",
        deleteMarker: result.deleteMarker,
      };
    }),

    ListFiles: unary(deps, async (req) => {
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

    GetFileUrl: unary(deps, async (req) => {
      const method = req.method === "URL_METHOD_PUT" ? "PUT" : "GET";
      const url = await service.presign(req.bucket, req.objectName, {
        method,
        ...(req.expiresInSeconds !== undefined ? { expiresInSeconds: req.expiresInSeconds } : {}),
        ...(req.versionId !== undefined ? { versionId: req.versionId } : {}),
        ...(req.contentType !== undefined ? { contentType: req.contentType } : {}),
      });
      return {
        url: url.url,
        method: method === "PUT" ? "URL_METHOD_PUT" : "URL_METHOD_GET",
        expiresAt: timestamp(url.expiresAt),
      };
    }),

    CopyFile: unary(deps, async (req) => {
      const info = await service.copy(
        {
          bucket: req.sourceBucket,
          key: req.sourceObjectName,
          ...(req.sourceVersionId !== undefined ? { versionId: req.sourceVersionId } : {}),
        },
        { bucket: req.targetBucket, key: req.targetObjectName },
      );
      return writeResponse(info, "File copied successfully");
    }),
  };
}
