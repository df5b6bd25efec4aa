import type { ModelFile, ModelMetadata, ModelVersion } from "../../../stores/models/types.ts";
import type { ModelFile as ModelFileMessage } from "../generated/lumenslate/storage/v1/ModelFile.ts";
import type {
  ModelMetadata__Output,
  ModelMetadata as ModelMetadataMessage,
} from "../generated/lumenslate/storage/v1/ModelMetadata.ts";
import type { ModelVersion as ModelVersionMessage } from "../generated/lumenslate/storage/v1/ModelVersion.ts";
import { timestamp } from "./convert.ts";

/** Model store shapes ↔ ModelStorageService messages. */

const nonEmpty = (record: Record<string, unknown>) => Object.keys(record).length > 0;

/** proto3 gives every map and list (empty when not sent): the store is handed only what was given. */
export function metadataFromMessage(m: ModelMetadata__Output | null | undefined): ModelMetadata {
  if (!m) return {};
  return {
    ...(m.framework !== undefined ? { framework: m.framework } : {}),
    ...(nonEmpty(m.metrics) ? { metrics: m.metrics } : {}),
    ...(m.tags.length > 0 ? { tags: m.tags } : {}),
    ...(m.description !== undefined ? { description: m.description } : {}),
    ...(m.parentVersion !== undefined ? { parentVersion: m.parentVersion } : {}),
    ...(nonEmpty(m.extra) ? { extra: m.extra } : {}),
  };
}

export const metadataMessage = (m: ModelMetadata): ModelMetadataMessage => ({
  ...(m.framework !== undefined ? { framework: m.framework } : {}),
  metrics: m.metrics ?? {},
  tags: m.tags ?? [],
  ...(m.description !== undefined ? { description: m.description } : {}),
  ...(m.parentVersion !== undefined ? { parentVersion: m.parentVersion } : {}),
  extra: m.extra ?? {},
});

export const fileMessage = (f: ModelFile): ModelFileMessage => ({
  path: f.path,
  size: f.size,
  sha256: f.sha256,
  storedSize: f.storedSize,
  encoding: f.encoding,
});

export const versionMessage = (v: ModelVersion): ModelVersionMessage => ({
  modelType: v.modelType,
  version: v.version,
  files: v.files.map(fileMessage),
  metadata: metadataMessage(v.metadata),
  uploader: v.uploader,
  createdAt: timestamp(v.createdAt),
  aliases: v.aliases,
});

/** The bytes a version's files take as uploaded (for audit records). */
export const versionBytes = (v: ModelVersion): number => v.files.reduce((n, f) => n + f.size, 0);
