import type { FastifyInstance, FastifyReply } from "fastify";
import type { ZodTypeProvider } from "fastify-type-provider-zod";
import { z } from "zod";
import type { AppContext } from "../../../app.ts";
import { normaliseKey, noteAudit, ownerOf, skipAudit, type Target } from "../access.ts";
import { applyContentSafety } from "../content-safety.ts";
import { disconnectSignal } from "../disconnect.ts";
import { metadataFromHeaders, objectHeaders } from "../headers.ts";
import { OBJECT_HEADERS, READ_HEADERS } from "../openapi-headers.ts";
import { uploadBody } from "../request-body.ts";
import { binaryBody, ObjectInfoSchema, objectJson, problemResponses } from "../schemas.ts";

/**
 * /v1/temp/{key}: uploads with a time to live into the temp bucket (stores/temp), and their reads,
 * which are refused (404 NOT_FOUND, "expired at ...") from the expiry on. The generic object routes
 * refuse them too: the core refuses every object whose `expires-at` metadata has passed.
 */

export const TEMP_TAG = "temp";
const TEMP_URL = "/v1/temp/*";

const TempParams = z.object({ "*": z.string().describe("Object key in the temp bucket.") });

const PutQuery = z.object({
  ttl: z.coerce
    .number()
    .optional()
    .describe("Seconds to live, from 1 to TEMP_MAX_TTL (default TEMP_DEFAULT_TTL)."),
  expiresAt: z.iso
    .datetime({ offset: true })
    .optional()
    .describe("Or: the instant it expires (ISO 8601), at most TEMP_MAX_TTL away; not with ttl."),
});

const TempObjectSchema = z.object({
  object: ObjectInfoSchema,
  expiresAt: z.string().describe("ISO 8601 instant from which reads are refused."),
});

/** The key a temp route names, in the temp bucket. */
const tempTarget = (app: AppContext, action: Target["action"]) => (request: { params: unknown }) => {
  const key = (request.params as Record<string, string | undefined>)["*"] ?? "";
  return [{ action, bucket: app.config.buckets.temp, key: normaliseKey(key) }];
};

/** GET /v1/temp/{key}: the object's bytes while it lives. */
export function registerTempReadRoute(fastify: FastifyInstance, app: AppContext): void {
  fastify.withTypeProvider<ZodTypeProvider>().route({
    method: "GET",
    url: TEMP_URL,
    // No HEAD derived from this GET: it would open a download to answer with headers.
    exposeHeadRoute: false,
    config: { access: { operation: "temp.get", audited: false, url: tempTarget(app, "read") } },
    schema: {
      tags: [TEMP_TAG],
      summary: "getTempFile: download a temp object until it expires (then 404 NOT_FOUND)",
      params: TempParams,
      responseHeaders: { 200: READ_HEADERS },
      response: {
        200: {
          description: "The object (Content-Type is its own); x-meta-expires-at says when it expires",
          content: {
            "application/octet-stream": {
              schema: z.string().meta({ format: "binary", contentMediaType: "application/octet-stream" }),
            },
          },
        },
        ...problemResponses,
      },
    },
    handler: async (request, reply) => {
      const got = await app.tempStore.get(request.params["*"], { signal: disconnectSignal(reply) });
      reply.headers(objectHeaders(got.info)).type(got.info.contentType);
      applyContentSafety(reply, got.info, undefined, false);
      reply.header("content-length", String(got.info.size)).code(200);
      return (reply as FastifyReply).send(got.body);
    },
  });
}

/** PUT /v1/temp/{key}?ttl=seconds: the raw body streamed into the temp bucket with its expiry. */
export function registerTempUploadRoute(fastify: FastifyInstance, app: AppContext): void {
  fastify.removeAllContentTypeParsers();
  fastify.addContentTypeParser("*", (_request, payload, done) => done(null, payload));
  fastify.withTypeProvider<ZodTypeProvider>().route({
    method: "PUT",
    url: TEMP_URL,
    config: { access: { operation: "temp.put", audited: true, url: tempTarget(app, "write") } },
    schema: {
      tags: [TEMP_TAG],
      summary: "uploadTempFile: store an object that expires after a time to live",
      description:
        "The body is stored as is (size and extension rules as for any upload); `x-meta-<name>` " +
        "headers become user metadata. The expiry is kept in the object's metadata (`expires-at`): " +
        "reads through any route are refused from then on, a periodic sweep and `temp sweep` delete " +
        "it, and the bucket's lifecycle rule is the backstop. A ttl outside 1..TEMP_MAX_TTL, a past " +
        "expiresAt, or both at once are refused (400) and nothing is stored.",
      params: TempParams,
      querystring: PutQuery,
      consumes: ["*/*"],
      streamedBody: binaryBody("The object's bytes"),
      requestHeaders: ["x-meta-{name}"],
      responseHeaders: { 201: OBJECT_HEADERS },
      response: { 201: TempObjectSchema, ...problemResponses },
    },
    handler: async (request, reply) => {
      const { ttl, expiresAt } = request.query;
      const body = uploadBody(request);
      const length = request.headers["content-length"];
      const stored = await app.tempStore.put({
        key: request.params["*"],
        body,
        owner: ownerOf(request),
        metadata: metadataFromHeaders(request.headers),
        ...(ttl === undefined ? {} : { ttlSeconds: ttl }),
        ...(expiresAt === undefined ? {} : { expiresAt: new Date(expiresAt) }),
        ...(request.headers["content-type"] ? { contentType: request.headers["content-type"] } : {}),
        ...(length === undefined ? {} : { expectedSize: Number(length) }),
        signal: disconnectSignal(reply),
      });
      const { info } = stored;
      noteAudit(request, {
        key: info.key,
        versionId: info.versionId,
        bytes: info.size,
        details: { expiresAt: stored.expiresAt.toISOString() },
      });
      return reply
        .code(201)
        .headers(objectHeaders(info))
        .send({ object: objectJson(info), expiresAt: stored.expiresAt.toISOString() });
    },
  });
}

const SweepBody = z.object({
  dryRun: z.boolean().optional().describe("Report what would be deleted; delete nothing (default false)."),
  batchSize: z.number().int().min(1).max(1000).optional().describe("Objects per batch (default 100)."),
});

const SweepReportSchema = z
  .object({
    bucket: z.string(),
    dryRun: z.boolean(),
    deleted: z.number().int().describe("Expired objects deleted (dry run: that would be)."),
    bytes: z.number().int(),
    gone: z.number().int().describe("Records whose object was already gone."),
    renewed: z.number().int().describe("Records whose key was uploaded again with a later expiry."),
    failed: z.number().int().describe("Objects left for the next sweep (logged)."),
  })
  .meta({ id: "TempSweepReport" });

/** POST /v1/admin/temp/sweep: what `temp sweep` does; needs admin on the temp bucket. */
export function registerTempSweepRoute(fastify: FastifyInstance, app: AppContext): void {
  fastify.withTypeProvider<ZodTypeProvider>().route({
    method: "POST",
    url: "/v1/admin/temp/sweep",
    config: {
      access: {
        operation: "temp.sweep",
        audited: true,
        url: () => [{ action: "admin", bucket: app.config.buckets.temp }],
      },
    },
    schema: {
      tags: [TEMP_TAG],
      summary: "sweepTemp: delete expired temp objects now (dryRun: only report)",
      body: SweepBody,
      response: { 200: SweepReportSchema, ...problemResponses },
    },
    preValidation: async (request) => {
      request.body ??= {};
    },
    handler: async (request) => {
      const { dryRun = false, batchSize } = request.body;
      if (dryRun) skipAudit(request);
      const report = await app.tempStore.sweep({ dryRun, ...(batchSize ? { batchSize } : {}) });
      noteAudit(request, {
        bucket: report.bucket,
        bytes: report.bytes,
        details: { dryRun, deleted: report.deleted, gone: report.gone, failed: report.failed },
      });
      return report;
    },
  });
}
