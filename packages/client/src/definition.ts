import { createHash } from "node:crypto";
import { fileURLToPath } from "node:url";
import { loadPackageDefinition, type Metadata } from "@grpc/grpc-js";
import { loadSync } from "@grpc/proto-loader";
import {
  LOADER_OPTIONS,
  PROTO_FILE,
  SSE_C_KEY_METADATA,
  SSE_C_MD5_METADATA,
  UPLOAD_SESSIONS_PROTO_FILE,
} from "./generated/protocol.ts";
import type { ProtoGrpcType as StorageGrpcType } from "./generated/storage.ts";
import type { ProtoGrpcType as SessionsGrpcType } from "./generated/upload_sessions.ts";

type ProtoGrpcType = StorageGrpcType & SessionsGrpcType;

/**
 * The API contract at run time: the package's copies of storage.proto and upload_sessions.proto
 * (direct transfers of large files) in proto/, beside src/ and dist/, so the same path works from
 * the sources and from the compiled package; loaded with the options the generated types in
 * ./generated were made with.
 */
const PROTO_ROOT = fileURLToPath(new URL("../proto", import.meta.url));

let proto: ProtoGrpcType | undefined;

export function storageProto(): ProtoGrpcType {
  proto ??= loadPackageDefinition(
    loadSync([PROTO_FILE, UPLOAD_SESSIONS_PROTO_FILE], { ...LOADER_OPTIONS, includeDirs: [PROTO_ROOT] }),
  ) as unknown as ProtoGrpcType;
  return proto;
}

/** SSE-C travels as call metadata under S3's header names (with its MD5), never in a message. */
export function setCustomerKeyMetadata(metadata: Metadata, key: Uint8Array): void {
  metadata.set(SSE_C_KEY_METADATA, Buffer.from(key).toString("base64"));
  metadata.set(SSE_C_MD5_METADATA, createHash("md5").update(key).digest("base64"));
}
