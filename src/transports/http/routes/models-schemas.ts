import type { FastifyRequest } from "fastify";
import { z } from "zod";
import type { Action } from "../../../security/index.ts";
import type { ModelFile, ModelVersion } from "../../../stores/models/index.ts";
import type { Target } from "../access.ts";

/** Schemas and access targets shared by the model routes (models.ts, models-blobs.ts, models-files.ts). */

export const MODELS_TAG = "models";

const modelType = z.string().describe("The model type, e.g. `sentiment` (a-z, 0-9, '-', '_', '.').");
export const TypeParams = z.object({ type: modelType });
export const VersionParams = z.object({ type: modelType, version: z.string().describe("A version name.") });
export const RefParams = z.object({
  type: modelType,
  ref: z.string().describe("A version, a named alias (e.g. `production`) or `latest`."),
});
export const AliasParams = z.object({
  type: modelType,
  alias: z.string().describe("The alias, e.g. `production`."),
});

/**
 * A model type's versions sit under `{type}/` in the model bucket for scopes (as the seed's
 * `model-artifacts/{model_type}/{version}/...` layout did): a key scoped `model-artifacts/sentiment/:read`
 * reads that type and nothing else. Blobs are under `blobs/`.
 */
export const typeTarget =
  (bucket: string, action: Action | readonly Action[]) =>
  (request: FastifyRequest): Target[] => {
    const params = request.params as { type?: string };
    return [{ action, bucket, key: `${params.type ?? ""}/` }];
  };

export const blobTarget = (bucket: string, action: Action) => (): Target[] => [
  { action, bucket, key: "blobs/" },
];

export const ModelMetadataSchema = z
  .object({
    framework: z.string().optional(),
    metrics: z.record(z.string(), z.number()).optional(),
    tags: z.array(z.string()).optional(),
    description: z.string().optional(),
    parentVersion: z.string().optional(),
    extra: z.record(z.string(), z.string()).optional().describe("Free key/value pairs (filterable)."),
  })
  .describe("What the version is: framework, metrics, tags, description, parent version, extra pairs");

export const ModelFileSchema = z
  .object({
    path: z.string().describe("The file's path in the version, e.g. `weights/model.safetensors`."),
    size: z.number().int().describe("Content bytes."),
    sha256: z.string().describe("sha256 of the content: the blob's name."),
    storedSize: z.number().int().describe("Bytes the blob takes in the store (compressed where it pays)."),
    encoding: z.enum(["identity", "gzip", "zstd"]),
  })
  .describe("One file of a version");

export const ModelVersionSchema = z
  .object({
    modelType: z.string(),
    version: z.string(),
    files: z.array(ModelFileSchema),
    metadata: ModelMetadataSchema,
    uploader: z.string(),
    createdAt: z.string(),
    aliases: z.array(z.string()).describe("Named aliases pointing here, and `latest` on the newest version."),
  })
  .describe("A model version (its manifest)");

export const StoredBlobSchema = z
  .object({
    sha256: z.string(),
    size: z.number().int(),
    storedSize: z.number().int(),
    encoding: z.enum(["identity", "gzip", "zstd"]),
    deduplicated: z.boolean().describe("The blob was stored already: no new bytes were kept."),
  })
  .describe("A stored blob");

export const modelVersionJson = (v: ModelVersion) => ({
  ...v,
  files: v.files.map((f: ModelFile) => ({ ...f })),
  createdAt: v.createdAt.toISOString(),
});
