import type { Readable } from "node:stream";
import type { ByteRange } from "../backends/object-store.ts";
import type { BucketReport } from "../core/reconcile.ts";
import type {
  CopySource,
  CopyTarget,
  Download,
  ListRequest,
  ListResult,
  ObjectInfo,
  PresignedUrl,
  PresignRequest,
} from "../core/types.ts";
import type { ApiKeyInfoJson } from "../security/admin-json.ts";
import type { AuditQuery, AuditRecord } from "../security/audit.ts";
import type { ProtoDiff, ProtoFileInput, ProtoVersion, PublishResult } from "../stores/proto/types.ts";
import type { ConfigApi } from "./config-api.ts";
import type { LogsApi } from "./logs-api.ts";
import type { ModelsApi } from "./models-api.ts";
import type { StatsApi } from "./stats-api.ts";
import type { TempApi } from "./temp-api.ts";
import type { UserDataApi } from "./user-data-api.ts";

/**
 * What the CLI's commands do to a service, whichever way it is reached: straight on the embedded
 * or configured database and object store (local mode, local-api.ts), or through a running service's
 * HTTP API (remote mode, remote/http-api.ts). Both return the same types, so a command prints the
 * same text and JSON in either mode and never asks which one it has.
 */
export interface StorageApi {
  put(req: PutRequest): Promise<ObjectInfo>;
  /** Full reads are verified against the object's sha256 (the body fails with DATA_CORRUPTED). */
  get(bucket: string, key: string, options: GetOptions): Promise<Download>;
  stat(bucket: string, key: string, versionId?: string): Promise<ObjectInfo>;
  ls(bucket: string, req: ListRequest): Promise<ListResult>;
  rm(bucket: string, key: string, versionId?: string): Promise<DeleteOutcome>;
  /** `owner` is recorded in local mode; a service records the calling key's service instead. */
  cp(source: CopySource, target: CopyTarget, owner: string): Promise<ObjectInfo>;
  presign(bucket: string, key: string, req: PresignRequest): Promise<PresignedUrl>;
  keys: KeysApi;
  audit(query: AuditQuery): Promise<AuditRecord[]>;
  reconcile(req: ReconcileRequest): Promise<BucketReport[]>;
  protos: ProtosApi;
  temp: TempApi;
  logs: LogsApi;
  userData: UserDataApi;
  config: ConfigApi;
  stats: StatsApi;
  models: ModelsApi;
}

/** The proto registry (stores/proto): versions accept the `latest` alias wherever they are read. */
export interface ProtosApi {
  push(req: ProtoPushRequest): Promise<PublishResult>;
  /** Sorted by semantic version, lowest first. */
  versions(service: string): Promise<ProtoVersion[]>;
  /** One version's manifest (`latest` resolved). */
  manifest(service: string, version: string): Promise<ProtoVersion>;
  file(service: string, version: string, filename: string, signal: AbortSignal): Promise<Readable>;
  /** A .tar.gz of the version's sources and generated code. */
  archive(service: string, version: string, signal: AbortSignal): Promise<Readable>;
  diff(service: string, from: string, to: string): Promise<ProtoDiff>;
}

export interface ProtoPushRequest {
  service: string;
  version: string;
  files: ProtoFileInput[];
  allowBreaking: boolean;
  /** Recorded in local mode; a service records the calling key's service instead. */
  uploader: string;
}

/**
 * Remote mode's path for a file: "proxy" through the service, "direct" straight to or from the
 * object store (remote/direct.ts), "auto" direct for large files with the service as the fallback.
 * Local mode always writes through its own service.
 */
export type Transfer = "auto" | "direct" | "proxy";

export interface PutRequest {
  file: string;
  bucket: string;
  key: string;
  metadata: Record<string, string>;
  /** Recorded in local mode; a service records the calling key's service instead. */
  owner: string;
  contentType?: string;
  expectedSha256?: string;
  signal: AbortSignal;
  onProgress?: (bytes: number) => void;
  transfer?: Transfer;
}

export interface GetOptions {
  versionId?: string;
  range?: ByteRange;
  signal: AbortSignal;
  transfer?: Transfer;
}

export interface DeleteOutcome {
  versionId?: string;
  deleteMarker: boolean;
}

/** An API key as the CLI prints it and the admin API answers (scopes formatted, dates ISO). */
export type KeyView = ApiKeyInfoJson;

export interface IssuedKeyView {
  key: KeyView;
  /** The whole token, shown once. */
  token: string;
}

export interface KeysApi {
  create(req: { service: string; scopes: string[]; rateLimit?: number }): Promise<IssuedKeyView>;
  list(includeRevoked: boolean): Promise<KeyView[]>;
  revoke(id: string): Promise<KeyView>;
  rotate(id: string): Promise<IssuedKeyView>;
}

export interface ReconcileRequest {
  /** Empty: every configured bucket that exists. */
  buckets: string[];
  repair: boolean;
  deleteUnindexed: boolean;
  staleUploadHours?: number;
}
