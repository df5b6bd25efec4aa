import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import type { ZodTypeProvider } from "fastify-type-provider-zod";
import { z } from "zod";
import type { AppContext } from "../../../app.ts";
import { keyJson } from "../../../security/admin-json.ts";
import { MAX_KEY_RATE_LIMIT } from "../../../security/api-keys.ts";
import type { ApiKeyInfo, IssuedKey } from "../../../security/index.ts";
import { parseScope } from "../../../security/index.ts";
import { noteAudit, SERVICE_WIDE } from "../access.ts";
import { problemResponses, queryBoolean } from "../schemas.ts";

/**
 * /v1/admin/keys: API key management over HTTP, the same operations as `keys create|list|rotate|
 * revoke` and the same JSON (security/admin-json.ts). Service-wide, so every route needs `*:admin`.
 * Changes are audited under the caller's key; the record names the key changed (id and service),
 * never a token. A token appears only in the answer to create and rotate, which must not be cached.
 */

const ApiKeyInfoSchema = z
  .object({
    id: z.string().describe("The key's public id (the part of the token after `lss_`)."),
    service: z.string(),
    scopes: z.array(z.string()).describe("`bucket[/prefix]:actions`"),
    rateLimit: z.number().int().nullable().describe("Requests per window; null: RATE_LIMIT_REQUESTS."),
    createdAt: z.string().describe("ISO 8601 date-time."),
    rotatedAt: z.string().nullable(),
    revokedAt: z.string().nullable().describe("Set once the key is revoked; it never works again."),
  })
  .meta({ id: "ApiKeyInfo" });

const IssuedKeySchema = z.object({
  key: ApiKeyInfoSchema,
  token: z.string().describe("`lss_<id>_<secret>`: shown this once, stored nowhere."),
});

const CreateKeyBody = z.object({
  service: z.string().describe("The calling service the key belongs to (a-z, 0-9, '.', '_', '-')."),
  scopes: z
    .array(z.string())
    .min(1)
    .describe("`bucket[/prefix]:actions`, e.g. `temp:read,write` or `user-data/users/{user_id}/:read`."),
  rateLimit: z
    .number()
    .int()
    .min(1)
    .max(MAX_KEY_RATE_LIMIT)
    .optional()
    .describe("Requests per rate-limit window for this key (default: RATE_LIMIT_REQUESTS)."),
});

/** Only a key id: a whole token pasted here by mistake must not reach an error message or a log line. */
const KeyParams = z.object({
  id: z
    .string()
    .regex(/^[a-z0-9]{16}$/, "Expected a key id: 16 characters of a-z and 0-9, not a token.")
    .describe("The key's public id."),
});

const admin = (operation: string, audited: boolean) => ({
  access: { operation, audited, url: () => [...SERVICE_WIDE] },
});

/** Which key a change was about, for its audit record (the caller is recorded as the record's key). */
const noteKey = (request: FastifyRequest, key: Pick<ApiKeyInfo, "id"> & Partial<ApiKeyInfo>) =>
  noteAudit(request, {
    details: { targetKeyId: key.id, ...(key.service ? { targetService: key.service } : {}) },
  });

const issuedJson = (reply: FastifyReply, issued: IssuedKey) => {
  reply.header("cache-control", "no-store");
  return { key: keyJson(issued.key), token: issued.token.reveal() };
};

export function registerAdminKeysRoutes(fastify: FastifyInstance, app: AppContext): void {
  const api = fastify.withTypeProvider<ZodTypeProvider>();
  const { keys } = app.security;

  api.route({
    method: "POST",
    url: "/v1/admin/keys",
    config: admin("keys.create", true),
    schema: {
      tags: ["admin"],
      operationId: "createKey",
      summary: "createKey: create an API key and return its token once",
      body: CreateKeyBody,
      response: { 201: IssuedKeySchema, ...problemResponses },
    },
    handler: async (request, reply) => {
      const { service, scopes, rateLimit } = request.body;
      const issued = await keys.create({
        service,
        scopes: scopes.map(parseScope),
        ...(rateLimit === undefined ? {} : { rateLimit }),
      });
      noteKey(request, issued.key);
      return reply.code(201).send(issuedJson(reply, issued));
    },
  });

  api.route({
    method: "GET",
    url: "/v1/admin/keys",
    config: admin("keys.list", false),
    schema: {
      tags: ["admin"],
      operationId: "listKeys",
      summary: "listKeys: API keys with their scopes, never their secrets",
      querystring: z.object({ all: queryBoolean.optional().describe("true: revoked keys too.") }),
      response: { 200: z.object({ keys: z.array(ApiKeyInfoSchema) }), ...problemResponses },
    },
    handler: async (request) => {
      const list = await keys.list({ includeRevoked: request.query.all === true });
      return { keys: list.map(keyJson) };
    },
  });

  api.route({
    method: "POST",
    url: "/v1/admin/keys/:id/rotate",
    config: admin("keys.rotate", true),
    schema: {
      tags: ["admin"],
      operationId: "rotateKey",
      summary: "rotateKey: a new secret for the same key id and scopes; the old token stops working",
      params: KeyParams,
      response: { 200: IssuedKeySchema, ...problemResponses },
    },
    handler: async (request, reply) => {
      noteKey(request, { id: request.params.id });
      const issued = await keys.rotate(request.params.id);
      noteKey(request, issued.key);
      return issuedJson(reply, issued);
    },
  });

  api.route({
    method: "DELETE",
    url: "/v1/admin/keys/:id",
    config: admin("keys.revoke", true),
    schema: {
      tags: ["admin"],
      operationId: "revokeKey",
      summary: "revokeKey: revoke an API key at once, for good (idempotent)",
      params: KeyParams,
      response: { 200: z.object({ key: ApiKeyInfoSchema }), ...problemResponses },
    },
    handler: async (request) => {
      noteKey(request, { id: request.params.id });
      const key = await keys.revoke(request.params.id);
      noteKey(request, key);
      return { key: keyJson(key) };
    },
  });
}
