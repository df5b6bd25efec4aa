import { StorageError } from "../../errors.ts";
import {
  ADMIN_SERVICE_NAME,
  CONFIG_SERVICE_NAME,
  LOG_STORAGE_SERVICE_NAME,
  MODEL_STORAGE_SERVICE_NAME,
  PROTO_STORAGE_SERVICE_NAME,
  STATS_SERVICE_NAME,
  STORAGE_SERVICE_NAME,
  TEMP_STORAGE_SERVICE_NAME,
  UPLOAD_SESSION_SERVICE_NAME,
  USER_DATA_SERVICE_NAME,
} from "./definition.ts";

/**
 * Which gRPC methods may be served, and how: deny by default. A method is served only when its
 * service is one of the few public ones, or when it has an entry in OPERATIONS (then it needs an
 * API key, and its handler checks the key's scope on the first message). Anything else is refused
 * twice over: the server will not register it (register.ts), and the auth interceptor refuses
 * its path if it was registered some other way. A new method therefore cannot go out unchecked
 * because someone forgot the interceptor: without its line here it is not served at all.
 */

/** Services open to callers without a key: probes and the schema, nothing that touches data. */
export const PUBLIC_SERVICES: ReadonlySet<string> = new Set([
  "grpc.health.v1.Health",
  "grpc.reflection.v1.ServerReflection",
  "grpc.reflection.v1alpha.ServerReflection",
]);

const storage = (method: string) => `/${STORAGE_SERVICE_NAME}/${method}`;
const admin = (method: string) => `/${ADMIN_SERVICE_NAME}/${method}`;
const protos = (method: string) => `/${PROTO_STORAGE_SERVICE_NAME}/${method}`;
const temp = (method: string) => `/${TEMP_STORAGE_SERVICE_NAME}/${method}`;
const userData = (method: string) => `/${USER_DATA_SERVICE_NAME}/${method}`;
const logs = (method: string) => `/${LOG_STORAGE_SERVICE_NAME}/${method}`;
const config = (method: string) => `/${CONFIG_SERVICE_NAME}/${method}`;
const stats = (method: string) => `/${STATS_SERVICE_NAME}/${method}`;
const models = (method: string) => `/${MODEL_STORAGE_SERVICE_NAME}/${method}`;
const uploads = (method: string) => `/${UPLOAD_SESSION_SERVICE_NAME}/${method}`;

/**
 * The operation each keyed method is audited as (its handler in services/storage-service.ts uses
 * the same name, and checks the scope it needs: read, write, delete, list or presign). AdminService
 * methods (services/admin.ts) all need `admin` on every bucket (`*:admin`), the same operation
 * names as the HTTP admin routes. ProtoStorageService methods (services/protos.ts) check scopes on
 * the proto-files bucket at `{service}/` (UploadGeneratedCode: on the grpc-services bucket).
 */
export const OPERATIONS: Readonly<Record<string, string>> = {
  [storage("UploadFile")]: "upload",
  [storage("DownloadFile")]: "download",
  [storage("StatFile")]: "stat",
  [storage("DeleteFile")]: "delete",
  [storage("ListFiles")]: "list",
  [storage("GetFileUrl")]: "presign",
  [storage("CopyFile")]: "copy",
  [admin("CreateKey")]: "keys.create",
  [admin("ListKeys")]: "keys.list",
  [admin("RotateKey")]: "keys.rotate",
  [admin("RevokeKey")]: "keys.revoke",
  [admin("QueryAudit")]: "audit.query",
  [admin("Reconcile")]: "reconcile",
  [protos("UploadProtoFile")]: "protos.publish",
  [protos("UploadGeneratedCode")]: "protos.generated",
  [protos("GetProtoVersions")]: "protos.versions",
  [protos("DownloadProtoFile")]: "protos.file",
  [protos("DownloadProtoArchive")]: "protos.archive",
  [protos("DiffProtoVersions")]: "protos.diff",
  [protos("GetProtoDefinitions")]: "protos.definitions",
  [protos("ListProtoServices")]: "protos.services",
  [temp("UploadTempFile")]: "temp.put",
  [temp("DownloadTempFile")]: "temp.get",
  [temp("SweepTemp")]: "temp.sweep",
  // UserDataService (services/user-data.ts): scopes on the user-data bucket at `users/{user_id}/`.
  [userData("UploadUserFile")]: "users.upload",
  [userData("ListUserFiles")]: "users.list",
  [userData("DownloadUserFile")]: "users.download",
  [userData("DeleteUserFile")]: "users.delete",
  [userData("DeleteAllUserFiles")]: "users.delete-all",
  [userData("GetUserUsage")]: "users.usage",
  // LogStorageService (services/logs.ts): scopes on the logs bucket at `{service}/`.
  [logs("UploadLogFile")]: "logs.upload",
  [logs("AppendLogs")]: "logs.append",
  [logs("GetLogsByDate")]: "logs.read",
  [logs("ListLogObjects")]: "logs.objects",
  [logs("CompactLogs")]: "logs.compact",
  [logs("RotateLogs")]: "logs.rotate",
  // ConfigService (services/config.ts): scopes on the config bucket at `{name}/` (flags: `flags/{flag}/`).
  [config("PutDocument")]: "config.put",
  [config("GetDocument")]: "config.get",
  [config("GetHistory")]: "config.history",
  [config("DiffVersions")]: "config.diff",
  [config("RollbackDocument")]: "config.rollback",
  [config("EvaluateFlag")]: "flags.evaluate",
  // StatsService (services/stats.ts): GetStorageStats, CheckAlerts and ListAlerts need `*:admin`,
  // GetBucketUsage `list` on the bucket.
  [stats("GetStorageStats")]: "stats",
  [stats("GetBucketUsage")]: "usage",
  [stats("CheckAlerts")]: "alerts.check",
  [stats("ListAlerts")]: "alerts.list",
  // ModelStorageService (services/models.ts): scopes on the model-artifacts bucket at `{model_type}/`
  // (blobs at `blobs/`; CollectGarbage: admin on the bucket).
  [models("PushModel")]: "models.push",
  [models("PublishModel")]: "models.publish",
  [models("GetModel")]: "models.get",
  [models("DownloadModelFile")]: "models.download",
  [models("ListModels")]: "models.list",
  [models("DeleteModelVersion")]: "models.delete",
  [models("SetModelAlias")]: "models.alias-set",
  [models("DeleteModelAlias")]: "models.alias-remove",
  [models("CollectGarbage")]: "models.gc",
  // UploadSessionService (services/upload-sessions.ts): `write` at the session's key; a session is its owner's alone.
  [uploads("CreateUploadSession")]: "upload-session-create",
  [uploads("GetUploadPartUrls")]: "upload-session-parts",
  [uploads("GetUploadSession")]: "upload-session-status",
  [uploads("CompleteUploadSession")]: "upload-session-complete",
  [uploads("AbortUploadSession")]: "upload-session-abort",
};

export type MethodAccess = { kind: "public" } | { kind: "keyed"; operation: string } | { kind: "unmapped" };

/** The service of a method path (`/pkg.Service/Method` → `pkg.Service`); undefined for a malformed path. */
export const serviceOf = (path: string): string | undefined => /^\/([^/]+)\/[^/]+$/.exec(path)?.[1];

export function methodAccess(path: string): MethodAccess {
  if (Object.hasOwn(OPERATIONS, path)) return { kind: "keyed", operation: OPERATIONS[path] as string };
  const service = serviceOf(path);
  return service !== undefined && PUBLIC_SERVICES.has(service) ? { kind: "public" } : { kind: "unmapped" };
}

/** The refusal of a method that has no access rule (even with AUTH_DISABLED: there is no rule to open). */
export const unmappedMethod = (path: string): StorageError =>
  new StorageError(
    "PERMISSION_DENIED",
    `The method ${path.slice(0, 200)} has no access rule on this server, so nobody may call it.`,
    { method: path.slice(0, 200) },
  );
