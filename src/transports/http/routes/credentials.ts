import type { FastifyInstance } from "fastify";
import type { ZodTypeProvider } from "fastify-type-provider-zod";
import { z } from "zod";
import type { AppContext } from "../../../app.ts";
import { STS_MIN_DURATION_SECONDS } from "../../../config/config.ts";
import { ACTIONS } from "../../../security/index.ts";
import { normaliseKey, noteAudit } from "../access.ts";
import { bindingsOf, principalOf } from "../auth.ts";
import { problemResponses } from "../schemas.ts";

const CredentialsBody = z.object({
  bucket: z.string(),
  prefix: z
    .string()
    .describe('Key prefix the credentials are limited to ("" = the whole bucket, if the key may).'),
  durationSeconds: z
    .number()
    .int()
    .positive()
    .optional()
    .describe(
      `Lifetime, from ${STS_MIN_DURATION_SECONDS} s to STS_MAX_DURATION (default ${STS_MIN_DURATION_SECONDS}).`,
    ),
});

const CredentialsResponse = z.object({
  accessKeyId: z.string(),
  secretAccessKey: z.string(),
  sessionToken: z.string(),
  expiration: z.string().describe("ISO 8601 date-time; the credentials stop working then."),
  endpoint: z.string().describe("The S3 endpoint to use them with (path-style addressing)."),
  region: z.string(),
  bucket: z.string(),
  prefix: z.string(),
  actions: z
    .array(z.enum(ACTIONS))
    .describe("What they allow under the prefix: the key's own actions there."),
});

/**
 * POST /v1/credentials: temporary S3 credentials limited to one bucket/prefix (STS AssumeRole with
 * an inline session policy), so large files can go straight to MinIO. Needs `presign` on the
 * prefix; the credentials carry no more than the key's other actions there. The answer is the one
 * place the secret and session token appear: they are never logged or audited (only the public
 * access key id is, to match MinIO's own audit events), and the response must not be cached.
 */
export function registerCredentialsRoute(fastify: FastifyInstance, app: AppContext): void {
  fastify.withTypeProvider<ZodTypeProvider>().route({
    method: "POST",
    url: "/v1/credentials",
    config: {
      access: {
        operation: "credentials",
        audited: true,
        body: (request) => {
          const { bucket, prefix } = request.body as z.output<typeof CredentialsBody>;
          return [{ action: "presign", bucket, ...(prefix ? { key: normaliseKey(prefix) } : {}) }];
        },
      },
    },
    schema: {
      tags: ["presign"],
      summary: "Temporary S3 credentials limited to a prefix (for direct transfers to MinIO)",
      errors: ["UNSUPPORTED_OPERATION"],
      body: CredentialsBody,
      response: { 200: CredentialsResponse, ...problemResponses },
    },
    handler: async (request, reply) => {
      const { bucket, prefix, durationSeconds } = request.body;
      const creds = await app.security.temporaryCredentials(principalOf(request), {
        bucket,
        prefix,
        ...(durationSeconds === undefined ? {} : { durationSeconds }),
        bindings: bindingsOf(request),
      });
      noteAudit(request, {
        details: {
          accessKeyId: creds.accessKeyId,
          expiration: creds.expiration.toISOString(),
          actions: creds.actions.join(","),
        },
      });
      reply.header("cache-control", "no-store");
      return {
        accessKeyId: creds.accessKeyId,
        secretAccessKey: creds.secretAccessKey.reveal(),
        sessionToken: creds.sessionToken.reveal(),
        expiration: creds.expiration.toISOString(),
        endpoint: creds.endpoint,
        region: creds.region,
        bucket: creds.bucket,
        prefix: creds.prefix,
        actions: creds.actions,
      };
    },
  });
}
