import type { FastifyInstance } from "fastify";
import type { ZodTypeProvider } from "fastify-type-provider-zod";
import { z } from "zod";
import type { AppContext } from "../../../app.ts";
import { StorageError } from "../../../errors.ts";
import type { Target } from "../access.ts";
import { noteAudit, ownerOf, skipAudit } from "../access.ts";
import { problemResponses } from "../schemas.ts";
import {
  AliasParams,
  blobTarget,
  MODELS_TAG,
  ModelMetadataSchema,
  ModelVersionSchema,
  modelVersionJson,
  RefParams,
  typeTarget,
  VersionParams,
} from "./models-schemas.ts";

/**
 * The model store's JSON routes (stores/models): list and read versions, publish a manifest of
 * blobs already uploaded (models-blobs.ts), delete versions, move aliases, gc. Files are read in
 * models-files.ts.
 */

/** A manifest of 10,000 files is about 1.2 MB of JSON: more than the service-wide JSON limit. */
const MANIFEST_BODY_LIMIT = 4 * 1024 * 1024;

const ListQuery = z.object({
  type: z.string().optional().describe("Only this model type."),
  tag: z.string().optional().describe("Only versions with this tag."),
  metadata: z
    .string()
    .optional()
    .describe("`key=value`: versions whose extra pairs (or framework, description, parentVersion) match."),
  createdAfter: z.iso
    .datetime({ offset: true })
    .optional()
    .describe("Only versions created after this time."),
  cursor: z.string().optional().describe("nextCursor of the previous page."),
  limit: z.coerce.number().int().min(1).max(1000).optional(),
});

const GcReportSchema = z
  .object({
    blobs: z.number().int(),
    bytes: z.number().int().describe("Bytes the blobs take in the store."),
    deleted: z.boolean().describe("false for a dry run."),
    keys: z.array(z.string()).describe("The blobs' keys (at most 1,000 named)."),
  })
  .describe("What gc found (and deleted unless a dry run)");

function metadataFilter(value: string | undefined): { key: string; value: string } | undefined {
  if (value === undefined) return undefined;
  const at = value.indexOf("=");
  if (at <= 0) {
    throw new StorageError("INVALID_ARGUMENT", "The metadata filter is `key=value`.", { field: "metadata" });
  }
  return { key: value.slice(0, at), value: value.slice(at + 1) };
}

export function registerModelRoutes(fastify: FastifyInstance, app: AppContext): void {
  const f = fastify.withTypeProvider<ZodTypeProvider>();
  const { models } = app;
  const bucket = app.config.buckets.modelArtifacts;

  f.route({
    method: "GET",
    url: "/v1/models",
    config: {
      access: {
        operation: "models.list",
        audited: false,
        url: (request): Target[] => {
          const type = (request.query as { type?: unknown }).type;
          return [{ action: "list", bucket, ...(typeof type === "string" ? { key: `${type}/` } : {}) }];
        },
      },
    },
    schema: {
      tags: [MODELS_TAG],
      summary: "List model versions, newest first, with filters, a page at a time",
      querystring: ListQuery,
      response: {
        200: z.object({ versions: z.array(ModelVersionSchema), nextCursor: z.string().optional() }),
        ...problemResponses,
      },
    },
    handler: async (request) => {
      const q = request.query;
      const metadata = metadataFilter(q.metadata);
      const page = await models.list({
        ...(q.type !== undefined ? { modelType: q.type } : {}),
        ...(q.tag !== undefined ? { tag: q.tag } : {}),
        ...(metadata ? { metadata } : {}),
        ...(q.createdAfter !== undefined ? { createdAfter: new Date(q.createdAfter) } : {}),
        ...(q.cursor !== undefined ? { cursor: q.cursor } : {}),
        ...(q.limit !== undefined ? { limit: q.limit } : {}),
      });
      return {
        versions: page.versions.map(modelVersionJson),
        ...(page.nextCursor ? { nextCursor: page.nextCursor } : {}),
      };
    },
  });

  f.route({
    method: "GET",
    url: "/v1/models/:type/:ref",
    config: { access: { operation: "models.get", audited: false, url: typeTarget(bucket, "read") } },
    schema: {
      tags: [MODELS_TAG],
      summary: "A version's manifest, by version, alias or `latest`",
      params: RefParams,
      response: { 200: ModelVersionSchema, ...problemResponses },
    },
    handler: async (request) => modelVersionJson(await models.get(request.params.type, request.params.ref)),
  });

  f.route({
    method: "PUT",
    url: "/v1/models/:type/:version",
    bodyLimit: MANIFEST_BODY_LIMIT,
    config: {
      access: {
        operation: "models.publish",
        audited: true,
        // Naming a stored blob by its sha256 reads it, in effect: the version then serves its bytes.
        url: (request) => [...typeTarget(bucket, "write")(request), ...blobTarget(bucket, "read")()],
      },
    },
    schema: {
      tags: [MODELS_TAG],
      summary: "Publish a version: a manifest of files whose blobs are stored already",
      description:
        "Upload each file's bytes first (POST /v1/models/blobs, or for a large file an upload session " +
        "from POST /v1/models/blobs/uploads), then name them here by path and sha256. A blob that is not stored is " +
        "412 PRECONDITION_FAILED naming it, and nothing is published. Needs `write` on `{type}/` and `read` " +
        "on `blobs/` (naming a blob by its hash reads it, in effect). Versions never change: publishing " +
        "an existing one is 409. `latest` moves to the new version.",
      params: VersionParams,
      body: z.object({
        files: z
          .array(z.object({ path: z.string(), sha256: z.string() }))
          .describe("Every file of the version."),
        metadata: ModelMetadataSchema.optional(),
      }),
      response: { 201: ModelVersionSchema, ...problemResponses },
    },
    handler: async (request, reply) => {
      const { type, version } = request.params;
      const v = await models.publish(
        type,
        version,
        request.body.files,
        request.body.metadata ?? {},
        ownerOf(request),
      );
      noteAudit(request, {
        key: `${type}/${version}`,
        bytes: v.files.reduce((sum, file) => sum + file.size, 0),
        details: { files: v.files.length },
      });
      return reply.code(201).send(modelVersionJson(v));
    },
  });

  f.route({
    method: "DELETE",
    url: "/v1/models/:type/:version",
    config: { access: { operation: "models.delete", audited: true, url: typeTarget(bucket, "delete") } },
    schema: {
      tags: [MODELS_TAG],
      summary: "Delete a version (its manifest; blobs go at the next gc once unreferenced)",
      description:
        "A version a named alias points at is refused (412, the message names the alias) unless " +
        "`force=true`, which removes those aliases too. `latest` never holds a version back.",
      params: VersionParams,
      querystring: z.object({ force: z.enum(["true", "false"]).optional() }),
      response: { 204: z.undefined().describe("Deleted"), ...problemResponses },
    },
    handler: async (request, reply) => {
      const { type, version } = request.params;
      const force = request.query.force === "true";
      await models.deleteVersion(type, version, { force });
      noteAudit(request, { key: `${type}/${version}`, details: { force } });
      return reply.code(204).send();
    },
  });

  f.route({
    method: "PUT",
    url: "/v1/models/:type/aliases/:alias",
    config: { access: { operation: "models.alias-set", audited: true, url: typeTarget(bucket, "write") } },
    schema: {
      tags: [MODELS_TAG],
      summary: "Point a named alias (e.g. `production`) at a version, creating or moving it",
      params: AliasParams,
      body: z.object({ version: z.string() }),
      response: { 200: z.object({ alias: z.string(), version: z.string() }), ...problemResponses },
    },
    handler: async (request) => {
      const { type, alias } = request.params;
      await models.setAlias(type, alias, request.body.version);
      noteAudit(request, { key: `${type}/aliases/${alias}`, details: { version: request.body.version } });
      return { alias, version: request.body.version };
    },
  });

  f.route({
    method: "DELETE",
    url: "/v1/models/:type/aliases/:alias",
    config: { access: { operation: "models.alias-remove", audited: true, url: typeTarget(bucket, "write") } },
    schema: {
      tags: [MODELS_TAG],
      summary: "Remove a named alias",
      params: AliasParams,
      response: { 204: z.undefined().describe("Removed"), ...problemResponses },
    },
    handler: async (request, reply) => {
      const { type, alias } = request.params;
      await models.removeAlias(type, alias);
      noteAudit(request, { key: `${type}/aliases/${alias}` });
      return reply.code(204).send();
    },
  });

  f.route({
    method: "POST",
    url: "/v1/models/gc",
    config: {
      access: { operation: "models.gc", audited: true, url: () => [{ action: "admin", bucket }] },
    },
    schema: {
      tags: [MODELS_TAG],
      summary:
        "Delete blobs no version references (a dry run unless `apply` is true); admin on the model bucket",
      description:
        "Blobs (and staged uploads) last written more than `graceSeconds` ago (default 3600) that no " +
        "manifest names. The report counts them and the bytes they take in the store.",
      body: z
        .object({
          apply: z.boolean().optional().describe("Delete (default: only report)."),
          graceSeconds: z.number().int().min(0).optional(),
        })
        .optional(),
      response: { 200: GcReportSchema, ...problemResponses },
    },
    handler: async (request) => {
      const apply = request.body?.apply === true;
      const report = await models.gc({
        dryRun: !apply,
        ...(request.body?.graceSeconds !== undefined ? { graceSeconds: request.body.graceSeconds } : {}),
      });
      if (!apply) skipAudit(request);
      else noteAudit(request, { key: "blobs/", bytes: report.bytes, details: { blobs: report.blobs } });
      return report;
    },
  });

  f.route({
    method: "HEAD",
    url: "/v1/models/blobs/:sha256",
    config: {
      // An explicit HEAD (not derived from a GET) belongs in the OpenAPI document.
      swagger: { exposeHeadRoute: true },
      access: { operation: "models.blob-head", audited: false, url: blobTarget(bucket, "read") },
    },
    schema: {
      tags: [MODELS_TAG],
      summary: "Whether a blob is stored (200 with its content size in x-content-size, else 404)",
      params: z.object({ sha256: z.string().describe("Hex sha256 of the content.") }),
      response: { 200: z.undefined().describe("Stored"), ...problemResponses },
    },
    handler: async (request, reply) => {
      const blob = await models.hasBlob(request.params.sha256);
      if (!blob) {
        throw new StorageError("NOT_FOUND", `No blob ${request.params.sha256} is stored.`, {
          field: "sha256",
        });
      }
      return reply.header("x-content-size", String(blob.size)).code(200).send();
    },
  });
}
