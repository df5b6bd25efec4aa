import type { FastifyInstance } from "fastify";
import type { ZodTypeProvider } from "fastify-type-provider-zod";
import { z } from "zod";
import type { AppContext } from "../../../app.ts";
import { auditJson } from "../../../security/admin-json.ts";
import { MAX_QUERY_LIMIT } from "../../../security/audit.ts";
import { auditQueryFrom } from "../../../security/audit-query.ts";
import { SERVICE_WIDE } from "../access.ts";
import { problemResponses } from "../schemas.ts";

const TIME = "ISO 8601 date-time, or a duration back from now (15m, 24h, 7d).";

const AuditQueryString = z.object({
  since: z.string().optional().describe(`Records at or after this time: ${TIME}`),
  until: z.string().optional().describe(`Records before this time: ${TIME}`),
  key: z.string().optional().describe("Only this API key id (or MinIO access key)."),
  bucket: z.string().optional().describe("Only this bucket."),
  source: z.enum(["service", "minio"]).optional().describe("The service's own records, or MinIO's."),
  limit: z.coerce
    .number()
    .int()
    .min(1)
    .max(MAX_QUERY_LIMIT)
    .optional()
    .describe(`At most this many records (default 1000, at most ${MAX_QUERY_LIMIT}).`),
});

const nullable = z.string().nullable();

const AuditRecordSchema = z
  .object({
    id: z.number().int(),
    time: z.string().describe("ISO 8601 date-time (the database's clock)."),
    source: z.enum(["service", "minio"]),
    keyId: nullable,
    service: nullable,
    protocol: nullable.describe('"http", "grpc", "cli" or "s3" (MinIO events).'),
    action: z.string(),
    bucket: nullable,
    key: nullable,
    versionId: nullable,
    result: z.string().describe('"OK", or the error code the caller got.'),
    bytes: z.number().int().nullable(),
    requestId: nullable,
    clientAddress: nullable,
    details: z.record(z.string(), z.unknown()),
  })
  .meta({ id: "AuditRecord" });

/**
 * GET /v1/admin/audit: the audit trail, oldest first, filtered as `audit query` filters it (the
 * same parser, so `since=24h` works here too) and in the same JSON. Reading the trail is not itself
 * audited (like any read); it needs `*:admin`, since the trail covers every service.
 */
export function registerAdminAuditRoute(fastify: FastifyInstance, app: AppContext): void {
  fastify.withTypeProvider<ZodTypeProvider>().route({
    method: "GET",
    url: "/v1/admin/audit",
    config: { access: { operation: "audit.query", audited: false, url: () => [...SERVICE_WIDE] } },
    schema: {
      tags: ["admin"],
      summary: "queryAudit: audit records, oldest first, filtered",
      querystring: AuditQueryString,
      response: { 200: z.object({ records: z.array(AuditRecordSchema) }), ...problemResponses },
    },
    handler: async (request) => {
      const records = await app.security.audit.query(auditQueryFrom(request.query));
      return { records: records.map(auditJson) };
    },
  });
}
