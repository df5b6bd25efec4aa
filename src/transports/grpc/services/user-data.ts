import type { handleClientStreamingCall } from "@grpc/grpc-js";
import type { Logger } from "../../../log.ts";
import type { Action, Security } from "../../../security/index.ts";
import type { Usage, UserDataStore, UserFile } from "../../../stores/user-data/index.ts";
import { userPrefix } from "../../../stores/user-data/keys.ts";
import type { UploadUserFileRequest__Output } from "../generated/lumenslate/storage/v1/UploadUserFileRequest.ts";
import type { UserDataServiceHandlers } from "../generated/lumenslate/storage/v1/UserDataService.ts";
import type { UserFile as UserFileMessage } from "../generated/lumenslate/storage/v1/UserFile.ts";
import type { UserFileHeader__Output } from "../generated/lumenslate/storage/v1/UserFileHeader.ts";
import type { UserUsage } from "../generated/lumenslate/storage/v1/UserUsage.ts";
import type { InFlight } from "./call-scope.ts";
import { timestamp } from "./convert.ts";
import { send, sendChunks, serverStreaming } from "./download.ts";
import type { CallGate } from "./gate.ts";
import { unary } from "./storage-service.ts";
import { serveUpload } from "./upload.ts";

export interface UserDataHandlerDeps {
  userData: UserDataStore;
  security: Security;
  logger: Logger;
  inFlight: InFlight;
  maxMessageBytes: number;
}

const fileMessage = (f: UserFile): UserFileMessage => ({
  userId: f.userId,
  uploadId: f.uploadId,
  filename: f.filename,
  key: f.key,
  size: f.size,
  sha256: f.sha256,
  contentType: f.contentType,
  lastModified: timestamp(f.lastModified),
});

const usageMessage = (u: Usage): UserUsage => ({
  userId: u.userId,
  bytes: u.bytes,
  objects: u.objects,
  reservedBytes: u.reservedBytes,
  reservedObjects: u.reservedObjects,
  quotaBytes: u.quota.bytes,
  quotaObjects: u.quota.objects,
});

/**
 * lumenslate.storage.v1.UserDataService on the user-data store (stores/user-data). Every handler
 * authorizes on the user's prefix `users/{userId}/` in the user-data bucket (checked as a valid id
 * first, so the check looks where the store then would) before the store is asked anything;
 * uploads and deletions are audited. Quotas, validation and error codes come from the store.
 */
export function userDataHandlers(deps: UserDataHandlerDeps): UserDataServiceHandlers {
  const { userData } = deps;
  const allow = (gate: CallGate, userId: string, action: Action | readonly Action[], operation: string) =>
    gate.allow({ action, bucket: userData.bucket, key: userPrefix(userId), operation });

  return {
    UploadUserFile: uploadUserFile(deps),

    ListUserFiles: unary(deps, async (req, { gate }) => {
      await allow(gate, req.userId, "list", "users.list");
      const page = await userData.list(req.userId, {
        ...(req.cursor ? { cursor: req.cursor } : {}),
        ...(req.limit > 0 ? { limit: req.limit } : {}),
      });
      return { files: page.files.map(fileMessage), nextCursor: page.nextCursor ?? "" };
    }),

    DownloadUserFile: serverStreaming(deps, async (call, scope) => {
      const req = call.request;
      await allow(scope.gate, req.userId, "read", "users.download");
      const download = await userData.download(req.userId, req.uploadId, req.filename, scope.signal);
      try {
        await send(call, { file: fileMessage(download.file) }, scope.signal);
        await sendChunks(call, download.body, deps.maxMessageBytes, scope.signal);
      } finally {
        download.body.destroy();
      }
      call.end();
    }),

    DeleteUserFile: unary(deps, (req, { gate }) =>
      gate.mutation("users.delete", async (facts) => {
        facts.bucket = userData.bucket;
        await allow(gate, req.userId, "delete", "users.delete");
        const file = await userData.delete(req.userId, req.uploadId, req.filename);
        Object.assign(facts, { key: file.key, bytes: file.size });
        return fileMessage(file);
      }),
    ),

    DeleteAllUserFiles: unary(deps, (req, { gate }) =>
      gate.mutation("users.delete-all", async (facts) => {
        facts.bucket = userData.bucket;
        await allow(gate, req.userId, ["list", "delete"], "users.delete-all");
        const report = await userData.deleteAll(req.userId);
        Object.assign(facts, {
          key: userPrefix(req.userId),
          bytes: report.deletedBytes,
          details: { deletedObjects: report.deletedObjects, failed: report.failed },
        });
        return report;
      }),
    ),

    GetUserUsage: unary(deps, async (req, { gate }) => {
      await allow(gate, req.userId, "read", "users.usage");
      return usageMessage(await userData.usage(req.userId));
    }),
  };
}

/** Header (user, filename, size), then chunks; authorized and reserved before a chunk is read. */
function uploadUserFile(
  deps: UserDataHandlerDeps,
): handleClientStreamingCall<UploadUserFileRequest__Output, UserFileMessage> {
  const operation = "users.upload";
  return (...call) =>
    serveUpload<UserFileHeader__Output, UploadUserFileRequest__Output, UserFileMessage>(deps, call, {
      method: "UploadUserFile",
      operation,
      audit: (_header, facts) => {
        facts.bucket = deps.userData.bucket;
      },
      store: async (header, decoder, scope, facts) => {
        const principal = await scope.gate.allow({
          action: "write",
          bucket: deps.userData.bucket,
          key: userPrefix(header.userId),
          operation,
        });
        const file = await deps.userData.upload({
          userId: header.userId,
          filename: header.filename,
          size: header.size,
          body: decoder,
          owner: principal.service,
          signal: scope.signal,
          ...(header.contentType ? { contentType: header.contentType } : {}),
        });
        Object.assign(facts, { key: file.key, bytes: file.size, details: { sha256: file.sha256 } });
        return fileMessage(file);
      },
    });
}
