import fastifySwagger from "@fastify/swagger";
import fastifySwaggerUi from "@fastify/swagger-ui";
import type { FastifyInstance } from "fastify";
import { jsonSchemaTransform, jsonSchemaTransformObject } from "fastify-type-provider-zod";
import { z } from "zod";
import pkg from "../../../package.json" with { type: "json" };
import type { ErrorCode } from "../../errors.ts";
import {
  assertUniqueOperationIds,
  completeResponses,
  deriveOperationId,
  type HeaderName,
  type RouteShape,
  requestHeaderSchema,
} from "./openapi-operation.ts";
import { markScopePublic } from "./route-policy.ts";
import { problemResponses } from "./schemas.ts";

declare module "fastify" {
  interface FastifySchema {
    /**
     * OpenAPI description of a request body the route reads as a stream. Kept out of `body` so
     * Fastify neither validates nor buffers it; openapi.ts moves it into the document.
     */
    streamedBody?: Record<string, unknown>;
    /** Error codes this route can answer with beyond those its kind implies (openapi-operation.ts). */
    errors?: readonly ErrorCode[];
    /** Request headers the route reads, documented only (Fastify does not validate them). */
    requestHeaders?: readonly HeaderName[];
    /** Headers the route sets, per status. */
    responseHeaders?: Partial<Record<number, readonly HeaderName[]>>;
  }
}

type RouteConfig = { public?: string; access?: { operation?: string; body?: unknown } };

type TransformInput = Parameters<typeof jsonSchemaTransform>[0];

/**
 * The zod → JSON Schema transform, plus what zod cannot say: streamed bodies (streamedBody), the
 * name of the wildcard path parameter (Fastify's `*` is an object `key`), which operations need no
 * API key (routes declared `config.public`), and what every operation gets from its route's shape
 * (openapi-operation.ts): operationId, error responses, request and response headers.
 */
function transform(input: TransformInput): { schema: Record<string, unknown>; url: string } {
  const { streamedBody, errors, requestHeaders, responseHeaders, ...schema } = (input.schema ?? {}) as Record<
    string,
    unknown
  > & {
    streamedBody?: Record<string, unknown>;
    errors?: readonly ErrorCode[];
    requestHeaders?: readonly HeaderName[];
    responseHeaders?: Partial<Record<number, readonly HeaderName[]>>;
  };
  const route = (input as { route?: { method?: string | string[]; config?: RouteConfig } }).route;
  const config = route?.config ?? {};
  const shape: RouteShape = {
    method: String(route?.method ?? "get"),
    url: input.url,
    operation: config.access?.operation,
    isPublic: Boolean(config.public),
    bodyTargets: Boolean(config.access?.body),
    hasJsonBody: schema.body !== undefined,
    hasStreamedBody: streamedBody !== undefined,
    declared: errors ?? [],
  };
  // The problem placeholders are converted with the rest, then spread into one entry per status.
  const response = { ...problemResponses, ...((schema.response as Record<string, unknown>) ?? {}) };
  const out = jsonSchemaTransform({ ...input, schema: { ...schema, response } } as TransformInput);
  const result = (out.schema ?? {}) as Record<string, unknown>;
  if (result.hide) return { schema: result, url: out.url };
  if (streamedBody) result.body = streamedBody;
  result.operationId ??= deriveOperationId(shape);
  // @fastify/swagger suffixes the id of a documented HEAD route with "-head"; ours are explicit
  // routes with ids of their own (uniqueness is checked at start-up).
  if (typeof result.operationId === "string") result.operationId = result.operationId.replace(/-head$/, "");
  result.security = config.public ? [] : [{ apiKey: [] }];
  result.headers = requestHeaderSchema(
    result.headers as Record<string, unknown> | undefined,
    shape,
    requestHeaders ?? [],
  );
  const converted = result.response as Record<string, Record<string, unknown>>;
  const problem = (converted["4xx"]?.content ?? {}) as Record<string, unknown>;
  const declaredHeaders = Object.fromEntries(
    Object.entries(responseHeaders ?? {}).map(([status, names]) => [status, names ?? []]),
  );
  result.response = completeResponses(converted, shape, problem, declaredHeaders);
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
      servers: [
        { url: "/", description: "The service that served this document" },
        {
          url: "http://localhost:{port}",
          description: "A local service (`npm start`)",
          variables: { port: { default: "8080" } },
        },
      ],
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
        {
          name: "uploads",
          description: "Resumable upload sessions: parts straight to the object store (S3 backends)",
        },
        {
          name: "protos",
          description: "The proto registry: versioned, validated .proto sets and their code",
        },
        { name: "temp", description: "Uploads with a time to live, refused once expired, and their sweep" },
        { name: "config", description: "Versioned JSON/YAML config, history, rollback; feature flags" },
        { name: "admin", description: "API keys, the audit trail and reconcile (needs `*:admin`)" },
        { name: "service", description: "Health, readiness, metrics and this document" },
      ],
    },
    transform,
    transformObject: jsonSchemaTransformObject,
  });
  // Build the document once at start-up: a route without a unique operationId stops it here,
  // rather than in a client generator later.
  fastify.addHook("onReady", async () => {
    assertUniqueOperationIds(fastify.swagger() as unknown as Parameters<typeof assertUniqueOperationIds>[0]);
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
