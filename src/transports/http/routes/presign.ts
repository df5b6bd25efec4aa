import type { FastifyInstance } from "fastify";
import type { ZodTypeProvider } from "fastify-type-provider-zod";
import { z } from "zod";
import type { AppContext } from "../../../app.ts";
import { normaliseKey } from "../access.ts";
import { presignPost } from "../presign-post.ts";
import { problemResponses } from "../schemas.ts";

const PresignBody = z.object({
  bucket: z.string(),
  key: z.string(),
  method: z.enum(["GET", "PUT"]),
  expiresInSeconds: z
    .number()
    .int()
    .positive()
    .optional()
    .describe("Default and ceiling from the configuration."),
  contentType: z.string().optional().describe("PUT only: the Content-Type the uploader must send."),
  versionId: z.string().min(1).optional().describe("GET only: a specific version."),
});

const PresignResponse = z.object({
  url: z.string(),
  method: z.enum(["GET", "PUT"]),
  expiresAt: z.string(),
  headers: z.record(z.string(), z.string()).describe("Headers the request must carry (signed)."),
});

const PresignPostBody = z.object({
  bucket: z.string(),
  key: z.string(),
  contentType: z.string().optional().describe("The exact Content-Type the form must carry."),
  contentTypePrefix: z.string().optional().describe('Or a prefix it must start with, e.g. "image/".'),
  maxSize: z
    .number()
    .int()
    .nonnegative()
    .optional()
    .describe("Largest file in bytes (default: the maximum)."),
  expiresInSeconds: z.number().int().positive().optional(),
});

const PresignPostResponse = z.object({
  url: z.string().describe("POST a multipart/form-data form here."),
  fields: z
    .record(z.string(), z.string())
    .describe("Send these fields first, then the file as the last field, named `file`."),
  maxSize: z.number().int(),
  expiresAt: z.string(),
});

/** Presigned GET/PUT URLs and presigned POST policies for browser uploads (S3 backends only: else 501). */
export function registerPresignRoutes(fastify: FastifyInstance, app: AppContext): void {
  const f = fastify.withTypeProvider<ZodTypeProvider>();

  f.route({
    method: "POST",
    url: "/v1/presign",
    config: {
      access: {
        operation: "presign",
        audited: true,
        // Presigning needs the action the URL will perform, too.
        body: (request) => {
          const { bucket, key, method, versionId } = request.body as z.output<typeof PresignBody>;
          return [
            {
              action: ["presign", method === "GET" ? "read" : "write"],
              bucket,
              key: normaliseKey(key),
              ...(versionId ? { versionId } : {}),
            },
          ];
        },
      },
    },
    schema: {
      tags: ["presign"],
      summary: "A presigned GET or PUT URL with bounded expiry",
      errors: ["UNSUPPORTED_OPERATION"],
      body: PresignBody,
      response: { 200: PresignResponse, ...problemResponses },
    },
    handler: async (request) => {
      const { bucket, key, method, expiresInSeconds, contentType, versionId } = request.body;
      const signed = await app.service.presign(bucket, key, {
        method,
        expiresInSeconds,
        contentType,
        versionId,
      });
      const headers: Record<string, string> =
        method === "PUT" && contentType ? { "content-type": contentType } : {};
      return {
        url: signed.url,
        method: signed.method,
        expiresAt: signed.expiresAt.toISOString(),
        headers,
      };
    },
  });

  f.route({
    method: "POST",
    url: "/v1/presign-post",
    config: {
      access: {
        operation: "presign-post",
        audited: true,
        body: (request) => {
          const { bucket, key } = request.body as z.output<typeof PresignPostBody>;
          return [{ action: ["presign", "write"], bucket, key: normaliseKey(key) }];
        },
      },
    },
    schema: {
      tags: ["presign"],
      summary: "A presigned POST policy for browser form uploads (size and content-type conditions)",
      errors: ["UNSUPPORTED_OPERATION"],
      description:
        "The object store enforces the key, `content-length-range` 0..maxSize and the Content-Type " +
        "condition. The bytes bypass this service: the object is indexed by the next `reconcile`.",
      body: PresignPostBody,
      response: { 200: PresignPostResponse, ...problemResponses },
    },
    handler: async (request) => {
      const policy = await presignPost(app, request.body);
      return { ...policy, expiresAt: policy.expiresAt.toISOString() };
    },
  });
}
