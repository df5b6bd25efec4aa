import type { FastifyInstance, FastifyRequest } from "fastify";
import type { ZodTypeProvider } from "fastify-type-provider-zod";
import { z } from "zod";
import type { AppContext } from "../../../app.ts";
import { StorageError } from "../../../errors.ts";
import type { DocumentFormat } from "../../../stores/config/types.ts";
import { noteAudit, ownerOf } from "../access.ts";
import { problemResponses } from "../schemas.ts";
import {
  CONFIG_TAG,
  ConfigVersionSchema,
  configVersionJson,
  NameParams,
  nameTarget,
} from "./config-schemas.ts";

/**
 * PUT /v1/config/documents/{name} and /v1/config/schemas/{name}: the body is the document as
 * text, JSON or YAML by its content type, parsed by the store (not here) so a broken one is refused
 * with its line and column. In a scope of its own, with text parsers only.
 */

const YAML_TYPES = ["application/yaml", "application/x-yaml", "text/yaml", "text/x-yaml"];
const CONSUMES = ["application/json", ...YAML_TYPES];

function formatOf(request: FastifyRequest): DocumentFormat {
  const type = (request.headers["content-type"] ?? "").split(";")[0]?.trim().toLowerCase() ?? "";
  if (type === "application/json") return "json";
  if (YAML_TYPES.includes(type)) return "yaml";
  throw new StorageError("INVALID_ARGUMENT", `Send the document as application/json or application/yaml.`, {
    field: "content-type",
  });
}

const SchemaResponse = z.object({
  name: z.string(),
  schema: z.unknown(),
  sha256: z.string(),
  createdAt: z.string(),
  author: z.string(),
});

export function registerConfigPutRoutes(fastify: FastifyInstance, app: AppContext): void {
  fastify.removeAllContentTypeParsers();
  fastify.addContentTypeParser(CONSUMES, { parseAs: "string" }, (_request, body, done) => done(null, body));
  const f = fastify.withTypeProvider<ZodTypeProvider>();
  const { configStore } = app;
  const bucket = app.config.buckets.config;
  const bodyLimit = app.config.configStore.maxDocumentBytes;

  f.route({
    method: "PUT",
    url: "/v1/config/documents/*",
    bodyLimit,
    config: { access: { operation: "config.put", audited: true, url: nameTarget(bucket, "write") } },
    schema: {
      tags: [CONFIG_TAG],
      summary: "putConfigDocument: store a JSON or YAML document as the name's next version",
      description:
        "Parsed before it is stored: a broken document is INVALID_ARGUMENT with details.line and details.column; " +
        "one the name's JSON Schema refuses is INVALID_ARGUMENT listing the violations. Documents named " +
        "flags/<flag> must be flag documents ({enabled, rollout, allow, deny}). With ?expectedVersion=n the put " +
        "is stored only if n is the latest version (0: the name is new), else PRECONDITION_FAILED.",
      consumes: CONSUMES,
      params: NameParams,
      querystring: z.object({ expectedVersion: z.coerce.number().int().min(0).optional() }),
      body: z.string().describe("The document as JSON or YAML text."),
      response: { 201: ConfigVersionSchema, ...problemResponses },
    },
    handler: async (request, reply) => {
      const { expectedVersion } = request.query;
      const v = await configStore.put({
        name: request.params["*"],
        source: request.body,
        format: formatOf(request),
        author: ownerOf(request),
        ...(expectedVersion !== undefined ? { expectedVersion } : {}),
      });
      noteAudit(request, { details: { version: v.version, sha256: v.sha256 } });
      return reply.code(201).send(configVersionJson(v));
    },
  });

  f.route({
    method: "PUT",
    url: "/v1/config/schemas/*",
    bodyLimit,
    config: { access: { operation: "config.schema.put", audited: true, url: nameTarget(bucket, "write") } },
    schema: {
      tags: [CONFIG_TAG],
      summary: "putConfigSchema: set the JSON Schema (draft 2020-12) a document's versions must match",
      description:
        "Refused when it does not compile, or when the document's latest version does not match it.",
      consumes: CONSUMES,
      params: NameParams,
      body: z.string().describe("The schema as JSON or YAML text."),
      response: { 200: SchemaResponse, ...problemResponses },
    },
    handler: async (request) => {
      const s = await configStore.putSchema(
        request.params["*"],
        request.body,
        formatOf(request),
        ownerOf(request),
      );
      noteAudit(request, { details: { sha256: s.sha256 } });
      return { ...s, createdAt: s.createdAt.toISOString() };
    },
  });

  f.route({
    method: "GET",
    url: "/v1/config/schemas/*",
    // No derived HEAD: it would read the document to send headers only.
    exposeHeadRoute: false,
    config: { access: { operation: "config.schema.get", audited: false, url: nameTarget(bucket, "read") } },
    schema: {
      tags: [CONFIG_TAG],
      summary: "getConfigSchema: the JSON Schema set for a document",
      params: NameParams,
      response: { 200: SchemaResponse, ...problemResponses },
    },
    handler: async (request) => {
      const s = await configStore.getSchema(request.params["*"]);
      return { ...s, createdAt: s.createdAt.toISOString() };
    },
  });
}
