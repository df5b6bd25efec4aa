import { fileURLToPath } from "node:url";
import { loadPackageDefinition } from "@grpc/grpc-js";
import { loadSync, type Options, type PackageDefinition } from "@grpc/proto-loader";
import type { ProtoGrpcType as AdminProtoGrpcType } from "./generated/admin.ts";
import type { ProtoGrpcType as ConfigProtoGrpcType } from "./generated/config.ts";
import type { ProtoGrpcType as LogStorageProtoGrpcType } from "./generated/log_storage.ts";
import type { ProtoGrpcType as ModelStorageProtoGrpcType } from "./generated/model_storage.ts";
import type { ProtoGrpcType as ProtoStorageProtoGrpcType } from "./generated/proto_storage.ts";
import type { ProtoGrpcType as StatsProtoGrpcType } from "./generated/stats.ts";
import type { ProtoGrpcType as StorageProtoGrpcType } from "./generated/storage.ts";
import type { ProtoGrpcType as TempProtoGrpcType } from "./generated/temp.ts";
import type { ProtoGrpcType as UploadSessionsProtoGrpcType } from "./generated/upload_sessions.ts";
import type { ProtoGrpcType as UserDataProtoGrpcType } from "./generated/user_data.ts";

/**
 * The storage API contract as loaded at run time, shared by the server and the TypeScript client.
 * The .proto is the only source: message shapes come from it here, and the types in ./generated
 * are produced from it (npm run gen:grpc) with these same loader options.
 */

export const PROTO_ROOT = fileURLToPath(new URL("../../../proto", import.meta.url));
export const PROTO_FILE = "lumenslate/storage/v1/storage.proto";
export const ADMIN_PROTO_FILE = "lumenslate/storage/v1/admin.proto";
export const PROTO_STORAGE_PROTO_FILE = "lumenslate/storage/v1/proto_storage.proto";
export const TEMP_PROTO_FILE = "lumenslate/storage/v1/temp.proto";
export const USER_DATA_PROTO_FILE = "lumenslate/storage/v1/user_data.proto";
export const LOG_STORAGE_PROTO_FILE = "lumenslate/storage/v1/log_storage.proto";
export const CONFIG_PROTO_FILE = "lumenslate/storage/v1/config.proto";
export const STATS_PROTO_FILE = "lumenslate/storage/v1/stats.proto";
export const MODEL_STORAGE_PROTO_FILE = "lumenslate/storage/v1/model_storage.proto";
export const UPLOAD_SESSIONS_PROTO_FILE = "lumenslate/storage/v1/upload_sessions.proto";
/** Every file of the API: one package definition holds them all, so nothing served is left out. */
export const PROTO_FILES = [
  PROTO_FILE,
  ADMIN_PROTO_FILE,
  PROTO_STORAGE_PROTO_FILE,
  TEMP_PROTO_FILE,
  USER_DATA_PROTO_FILE,
  LOG_STORAGE_PROTO_FILE,
  CONFIG_PROTO_FILE,
  STATS_PROTO_FILE,
  MODEL_STORAGE_PROTO_FILE,
  UPLOAD_SESSIONS_PROTO_FILE,
] as const;
export const STORAGE_SERVICE_NAME = "lumenslate.storage.v1.StorageService";
export const ADMIN_SERVICE_NAME = "lumenslate.storage.v1.AdminService";
export const PROTO_STORAGE_SERVICE_NAME = "lumenslate.storage.v1.ProtoStorageService";
export const TEMP_STORAGE_SERVICE_NAME = "lumenslate.storage.v1.TempStorageService";
export const USER_DATA_SERVICE_NAME = "lumenslate.storage.v1.UserDataService";
export const LOG_STORAGE_SERVICE_NAME = "lumenslate.storage.v1.LogStorageService";
export const CONFIG_SERVICE_NAME = "lumenslate.storage.v1.ConfigService";
export const STATS_SERVICE_NAME = "lumenslate.storage.v1.StatsService";
export const MODEL_STORAGE_SERVICE_NAME = "lumenslate.storage.v1.ModelStorageService";
export const UPLOAD_SESSION_SERVICE_NAME = "lumenslate.storage.v1.UploadSessionService";

type ProtoGrpcType = StorageProtoGrpcType &
  AdminProtoGrpcType &
  ProtoStorageProtoGrpcType &
  TempProtoGrpcType &
  UserDataProtoGrpcType &
  LogStorageProtoGrpcType &
  ConfigProtoGrpcType &
  StatsProtoGrpcType &
  ModelStorageProtoGrpcType &
  UploadSessionsProtoGrpcType;

/**
 * camelCase fields, 64-bit integers as JS numbers (sizes stay below 2^53), enums as their names,
 * defaults for omitted scalars, and a virtual field naming the member set in each oneof.
 * scripts/gen-grpc-types.ts passes exactly these to proto-loader-gen-types.
 */
export const LOADER_OPTIONS = {
  keepCase: false,
  longs: Number,
  enums: String,
  defaults: true,
  oneofs: true,
} as const satisfies Options;

let definition: PackageDefinition | undefined;

export function storagePackageDefinition(): PackageDefinition {
  definition ??= loadSync([...PROTO_FILES], { ...LOADER_OPTIONS, includeDirs: [PROTO_ROOT] });
  return definition;
}

let proto: ProtoGrpcType | undefined;

/** The typed package object: constructors for clients and the service definition for servers. */
export function storageProto(): ProtoGrpcType {
  proto ??= loadPackageDefinition(storagePackageDefinition()) as unknown as ProtoGrpcType;
  return proto;
}
