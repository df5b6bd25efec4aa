import type { FastifyRequest } from "fastify";
import { z } from "zod";
import type { ConfigVersion } from "../../../stores/config/types.ts";
import type { Target } from "../access.ts";

/**
 * Shared by the /v1/config and /v1/flags routes: JSON shapes and who may call them. Access is
 * judged on the config bucket with the document's name as the key prefix (`config/billing/:read`
 * reads billing's documents); a flag `f` is the document `flags/f`.
 */

export const CONFIG_TAG = "config";

export const NameParams = z.object({
  "*": z
    .string()
    .describe("The document's name: '/'-separated segments, e.g. billing/settings or flags/new-ui."),
});

export const ConfigVersionSchema = z
  .object({
    name: z.string(),
    version: z.number().int(),
    format: z.enum(["json", "yaml"]),
    createdAt: z.string().describe("ISO 8601 date-time."),
    author: z.string().describe("The service (API key) that wrote it."),
    sha256: z.string().describe("Hex sha256 of the source text."),
    size: z.number().int(),
    restoredFrom: z.number().int().optional().describe("Set on versions written by a rollback."),
  })
  .meta({ id: "ConfigVersion" });

export const configVersionJson = (v: ConfigVersion): z.output<typeof ConfigVersionSchema> => ({
  ...v,
  createdAt: v.createdAt.toISOString(),
});

/** A JSON value, documented loosely (the document's own shape is up to its owner and schema). */
export const JsonValueSchema = z.unknown().describe("The parsed document (any JSON value).");

const DiffEntrySchema = z.object({
  path: z.string().describe("JSON Pointer of the place that differs."),
  from: z.unknown().optional(),
  to: z.unknown().optional(),
});

export const ConfigDiffSchema = z.object({
  name: z.string(),
  from: z.number().int(),
  to: z.number().int(),
  added: z.array(DiffEntrySchema),
  removed: z.array(DiffEntrySchema),
  changed: z.array(DiffEntrySchema),
});

export const Version = z.coerce.number().int().min(1).describe("A version number (1, 2, ...).");

/** The document named by the URL's `*`, on the config bucket. */
export function nameTarget(bucket: string, action: Target["action"]) {
  return (request: FastifyRequest): Target[] => {
    const name = (request.params as Record<string, string | undefined>)["*"] ?? "";
    return [{ action, bucket, key: `${name}/` }];
  };
}
