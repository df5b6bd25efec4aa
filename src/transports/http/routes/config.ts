import type { FastifyInstance } from "fastify";
import type { ZodTypeProvider } from "fastify-type-provider-zod";
import { z } from "zod";
import type { AppContext } from "../../../app.ts";
import { FLAG_PREFIX } from "../../../stores/config/index.ts";
import { noteAudit, ownerOf } from "../access.ts";
import { problemResponses } from "../schemas.ts";
import {
  CONFIG_TAG,
  ConfigDiffSchema,
  ConfigVersionSchema,
  configVersionJson,
  JsonValueSchema,
  NameParams,
  nameTarget,
  Version,
} from "./config-schemas.ts";

/**
 * Reads of the config store (stores/config), rollback, and flag evaluation. Documents and
 * schemas are put in config-put.ts (raw JSON or YAML bodies need their own parsers).
 */

export function registerConfigRoutes(fastify: FastifyInstance, app: AppContext): void {
  const f = fastify.withTypeProvider<ZodTypeProvider>();
  const { configStore } = app;
  const bucket = app.config.buckets.config;
  const read = (operation: string) => ({
    access: { operation, audited: false, url: nameTarget(bucket, "read") },
  });

  f.route({
    method: "GET",
    url: "/v1/config/documents",
    config: {
      access: { operation: "config.names", audited: false, url: () => [{ action: "list", bucket }] },
    },
    schema: {
      tags: [CONFIG_TAG],
      summary: "listConfigDocuments: the names of every config document",
      response: { 200: z.object({ names: z.array(z.string()) }), ...problemResponses },
    },
    handler: async () => ({ names: await configStore.names() }),
  });

  f.route({
    method: "GET",
    url: "/v1/config/documents/*",
    // No derived HEAD: it would read the document to send headers only.
    exposeHeadRoute: false,
    config: read("config.get"),
    schema: {
      tags: [CONFIG_TAG],
      summary: "getConfigDocument: the latest version of a document (or ?version=n), parsed and as put",
      params: NameParams,
      querystring: z.object({ version: Version.optional() }),
      response: {
        200: ConfigVersionSchema.extend({
          value: JsonValueSchema,
          source: z.string().describe("The document as it was put, comments included."),
        }),
        ...problemResponses,
      },
    },
    handler: async (request) => {
      const doc = await configStore.get(request.params["*"], request.query.version);
      return { ...configVersionJson(doc), value: doc.value, source: doc.source };
    },
  });

  f.route({
    method: "GET",
    url: "/v1/config/history/*",
    // No derived HEAD: it would read the document to send headers only.
    exposeHeadRoute: false,
    config: read("config.history"),
    schema: {
      tags: [CONFIG_TAG],
      summary: "getConfigHistory: every version of a document, oldest first",
      params: NameParams,
      response: { 200: z.object({ versions: z.array(ConfigVersionSchema) }), ...problemResponses },
    },
    handler: async (request) => ({
      versions: (await configStore.history(request.params["*"])).map(configVersionJson),
    }),
  });

  f.route({
    method: "GET",
    url: "/v1/config/diff/*",
    // No derived HEAD: it would read the document to send headers only.
    exposeHeadRoute: false,
    config: read("config.diff"),
    schema: {
      tags: [CONFIG_TAG],
      summary: "diffConfigVersions: the paths added, removed and changed between two versions",
      params: NameParams,
      querystring: z.object({ from: Version, to: Version }),
      response: { 200: ConfigDiffSchema, ...problemResponses },
    },
    handler: async (request) => configStore.diff(request.params["*"], request.query.from, request.query.to),
  });

  f.route({
    method: "POST",
    url: "/v1/config/rollback/*",
    config: { access: { operation: "config.rollback", audited: true, url: nameTarget(bucket, "write") } },
    schema: {
      tags: [CONFIG_TAG],
      summary: "rollbackConfigDocument: write an earlier version's content as the new latest version",
      params: NameParams,
      body: z.object({ version: z.number().int().min(1).describe("The version to restore.") }),
      response: { 201: ConfigVersionSchema, ...problemResponses },
    },
    handler: async (request, reply) => {
      const v = await configStore.rollback(request.params["*"], request.body.version, ownerOf(request));
      noteAudit(request, { details: { version: v.version, restoredFrom: request.body.version } });
      return reply.code(201).send(configVersionJson(v));
    },
  });

  f.route({
    method: "GET",
    url: "/v1/flags/:flag/evaluation",
    config: {
      access: {
        operation: "flags.evaluate",
        audited: false,
        url: (request) => {
          const { flag } = request.params as { flag?: string };
          return [{ action: "read", bucket, key: `${FLAG_PREFIX}${flag ?? ""}/` }];
        },
      },
    },
    schema: {
      tags: [CONFIG_TAG],
      summary: "evaluateFlag: whether a feature flag is on for a subject, and why",
      description:
        "Stable per subject: the rollout hashes the flag name and subject. Answers come from a per-instance " +
        "cache of CONFIG_FLAG_CACHE_TTL_SECONDS; a change made through the same instance is seen at once.",
      params: z.object({ flag: z.string().describe("The flag's name (the document flags/<flag>).") }),
      querystring: z.object({ subject: z.string().describe("Who is asking: a user, tenant or request id.") }),
      response: {
        200: z.object({
          flag: z.string(),
          subject: z.string(),
          enabled: z.boolean(),
          reason: z.enum(["disabled", "denied", "allowed", "rollout", "not-in-rollout"]),
          version: z.number().int().describe("The flag document's version the answer came from."),
        }),
        ...problemResponses,
      },
    },
    handler: async (request) => configStore.evaluateFlag(request.params.flag, request.query.subject),
  });
}
