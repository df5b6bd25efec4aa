import type { FastifyInstance } from "fastify";
import type { ZodTypeProvider } from "fastify-type-provider-zod";
import { z } from "zod";
import type { AppContext } from "../../../app.ts";
import { StorageError } from "../../../errors.ts";
import { webhookTokenMatches } from "../../../security/minio-audit.ts";
import { rateLimitSubject } from "../rate-limit.ts";
import { binaryBody, problemResponses } from "../schemas.ts";

/** One delivery's largest body: MinIO batches entries of a few KB each. */
export const WEBHOOK_BODY_LIMIT = 8 * 1024 * 1024;

/**
 * POST /v1/minio/audit: MinIO's audit webhook (MINIO_AUDIT_WEBHOOK_ENDPOINT_<target> pointed here,
 * MINIO_AUDIT_WEBHOOK_AUTH_TOKEN_<target> = MINIO_AUDIT_WEBHOOK_TOKEN). It takes no API key: the
 * webhook token is checked before the body is read (404 when no token is configured, 401 when
 * wrong, audited and charged to the address). Deliveries with the right token are not rate
 * limited, so a busy MinIO never loses audit events to the limiter. The raw body (JSON, a JSON
 * array or JSON lines) is read up to WEBHOOK_BODY_LIMIT and stored by security.receiveMinioAudit.
 */
export async function registerMinioAuditRoute(fastify: FastifyInstance, app: AppContext): Promise<void> {
  fastify.removeAllContentTypeParsers();
  fastify.addContentTypeParser(
    "*",
    { parseAs: "buffer", bodyLimit: WEBHOOK_BODY_LIMIT },
    (_req, body, done) => done(null, body),
  );

  fastify.withTypeProvider<ZodTypeProvider>().route({
    method: "POST",
    url: "/v1/minio/audit",
    config: { public: "webhook" },
    bodyLimit: WEBHOOK_BODY_LIMIT,
    schema: {
      tags: ["service"],
      summary: "MinIO's audit webhook (its own token, not an API key)",
      consumes: ["application/json"],
      streamedBody: {
        ...binaryBody("MinIO audit entries: one JSON entry, a JSON array, or JSON lines"),
        contentMediaType: "application/json",
      },
      response: { 200: z.object({ stored: z.number().int() }), ...problemResponses },
    },
    onRequest: async (request) => {
      const token = app.config.audit.webhookToken;
      if (!token) {
        throw new StorageError(
          "NOT_FOUND",
          "The MinIO audit webhook is not enabled (MINIO_AUDIT_WEBHOOK_TOKEN).",
        );
      }
      if (webhookTokenMatches(request.headers.authorization, token)) return;
      const clientAddress = rateLimitSubject(request.ip);
      await app.security.recordAudit({
        protocol: "http",
        action: "minio-audit",
        result: "UNAUTHENTICATED",
        requestId: String(request.id),
        clientAddress,
      });
      await app.rateLimiter.consume(clientAddress);
      throw new StorageError("UNAUTHENTICATED", "The webhook token is not valid.");
    },
    handler: async (request) => {
      const body = Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0);
      const stored = await app.security.receiveMinioAudit(request.headers.authorization, body);
      return { stored };
    },
  });
}
