import fastifySwagger from "@fastify/swagger";
import fastifySwaggerUi from "@fastify/swagger-ui";
import type { FastifyInstance } from "fastify";
import { jsonSchemaTransform, jsonSchemaTransformObject } from "fastify-type-provider-zod";
import { z } from "zod";
import pkg from "../../../package.json" with { type: "json" };
import { markScopePublic } from "./route-policy.ts";

declare module "fastify" {
  interface FastifySchema {
    /**
     * OpenAPI description of a request body the route reads as a stream. Kept out of `body` so
     * Fastify neither validates nor buffers it; openapi.ts moves it into the document.
     */
    streamedBody?: Record<string, unknown>;
  }
}

type TransformInput = Parameters<typeof jsonSchemaTransform>[0];

/**
 * The zod → JSON Schema transform, plus what zod cannot say: streamed bodies (streamedBody), the
 * name of the wildcard path parameter (Fastify's `*` is an object `key`), and which operations
 * need no API key (routes declared `config.public`).
 */
function transform(input: TransformInput): { schema: Record<string, unknown>; url: string } {
  const { streamedBody, ...schema } = (input.schema ?? {}) as Record<string, unknown> & {
    streamedBody?: Record<string, unknown>;
  };
  const out = jsonSchemaTransform({ ...input, schema } as TransformInput);
  const result = (out.schema ?? {}) as Record<string, unknown>;
  if (streamedBody && !result.hide) result.body = streamedBody;
  const route = (input as { route?: { config?: { public?: string } } }).route;
  if (route?.config?.public) result.security = [];
  let url = out.url;
  if (url.endsWith("/*")) {
    url = `${url.slice(0, -1)}:key`;
    const params = result.params as { properties?: Record<string, unknown>; required?: string[] } | undefined;
    if (params?.properties && "*" in params.properties) {
      const { "*": wildcard, ...rest } = params.properties;
      params.properties = { ...rest, key: wildcard };
      params.required = params.required?.map((name) => (name === "*" ? "key" : name));
    }
  }
  return { schema: result, url };
}

/** OpenAPI 3.1 generated from the route schemas, served at /openapi.json, with Swagger UI at /docs. */
export async function registerOpenApi(fastify: FastifyInstance): Promise<void> {
  await fastify.register(fastifySwagger, {
    openapi: {
      openapi: "3.1.0",
      info: {
        title: "lumenslate-storage",
        version: pkg.version,
        description:
          "Object storage for the Lumen Slate platform. Errors are RFC 9457 problem documents " +
          "(application/problem+json) carrying the core's stable `code`; every response has an x-request-id. " +
          "Every /v1 call needs an API key (`Authorization: Bearer lss_...`): 401 without a valid one, " +
          "403 when the key's scopes do not cover the call (decided before the store is touched, so it " +
          "never says whether an object exists). `x-user-id` binds `{user_id}` in scope prefixes.",
      },
      components: {
        securitySchemes: {
          apiKey: {
            type: "http",
            scheme: "bearer",
            description: "An API key token, lss_<id>_<secret> (`lumenslate-storage keys create`).",
          },
        },
      },
      security: [{ apiKey: [] }],
      tags: [
        { name: "objects", description: "Upload, download, inspect and delete objects" },
        { name: "buckets", description: "Listing and delete by prefix" },
        { name: "presign", description: "Presigned URLs and browser POST policies (S3 backends)" },
        { name: "admin", description: "API keys, the audit trail and reconcile (needs `*:admin`)" },
        { name: "service", description: "Health, readiness, metrics and this document" },
      ],
    },
    transform,
    transformObject: jsonSchemaTransformObject,
  });
  // Swagger UI's own routes (the page, its assets, the document) need no key, like the document.
  await fastify.register(async (docs) => {
    markScopePublic(docs, "docs");
    await docs.register(fastifySwaggerUi, { routePrefix: "/docs" });
  });
  fastify.get(
    "/openapi.json",
    {
      config: { public: "docs" },
      schema: {
        tags: ["service"],
        summary: "This OpenAPI 3.1 document",
        response: { 200: z.record(z.string(), z.unknown()) },
      },
    },
    async () => fastify.swagger() as unknown as Record<string, unknown>,
  );
}
