import type { Readable } from "node:stream";

/** The public contract of the proto registry, shared by the HTTP, gRPC and CLI front ends. */

export interface ProtoFileInput {
  /** A relative path like "foo/v1/foo.proto". */
  filename: string;
  content: Buffer;
}

export type BreakingRuleSet = "FILE" | "PACKAGE" | "WIRE_JSON" | "WIRE";

export interface PublishRequest {
  /** [a-z0-9][a-z0-9-_.]{0,62} */
  service: string;
  /** Semver 2.0 (no leading v); "latest" is an alias, never publishable. */
  version: string;
  /** The whole set, imports resolved within the set (+ well-known google/protobuf types). */
  files: ProtoFileInput[];
  /** Explicit override of the breaking-change check, recorded in the version's metadata. */
  allowBreaking?: boolean;
  /** Caller's service name (from the API key). */
  uploader: string;
  /** Default both. */
  generate?: Array<"typescript" | "python">;
}

export interface GeneratedReport {
  language: string;
  ok: boolean;
  files: number;
  error?: string;
}

export interface ProtoVersion {
  service: string;
  version: string;
  createdAt: Date;
  /** sha256 over the sorted (filename, sha256) list. */
  digest: string;
  uploader: string;
  files: Array<{ filename: string; size: number; sha256: string }>;
  breakingOverridden: boolean;
  breakingViolations: string[];
  generated: GeneratedReport[];
}

export interface PublishResult {
  version: ProtoVersion;
  /** false: identical re-upload, idempotent. */
  created: boolean;
}

export interface ProtoDiff {
  from: string;
  to: string;
  added: { messages: string[]; services: string[]; fields: string[] };
  removed: { messages: string[]; services: string[]; fields: string[] };
}

export interface ProtoDefinitions {
  messages: string[];
  services: Array<{ name: string; methods: string[] }>;
  enums: string[];
}

export interface UploadGeneratedRequest {
  service: string;
  version: string;
  language: string;
  filename: string;
  body: Readable;
  uploader: string;
}

export interface ProtoRegistry {
  publish(req: PublishRequest): Promise<PublishResult>;
  uploadGenerated(
    req: UploadGeneratedRequest,
  ): Promise<{ bucket: string; key: string; sha256: string; size: number }>;
  /** Sorted by semver ascending. */
  versions(service: string): Promise<ProtoVersion[]>;
  /** Accepts the "latest" alias. */
  resolve(service: string, versionOrAlias: string): Promise<ProtoVersion>;
  downloadFile(
    service: string,
    versionOrAlias: string,
    filename: string,
  ): Promise<{ info: ProtoVersion["files"][number]; body: Readable }>;
  /** .tar.gz of sources + generated. */
  downloadTarball(service: string, versionOrAlias: string): Promise<Readable>;
  diff(service: string, from: string, to: string): Promise<ProtoDiff>;
  definitions(service: string, versionOrAlias: string): Promise<ProtoDefinitions>;
  services(): Promise<string[]>;
}
