import type { FastifyInstance } from "fastify";
import type { ZodTypeProvider } from "fastify-type-provider-zod";
import { z } from "zod";
import type { AppContext } from "../../../app.ts";
import { StorageError } from "../../../errors.ts";
import { normaliseKey, noteAudit, ownerOf } from "../access.ts";
import { disconnectSignal } from "../disconnect.ts";
import { objectHeaders, objectPath } from "../headers.ts";
import { OBJECT_HEADERS } from "../openapi-headers.ts";
import { ObjectInfoSchema, objectJson, problemResponses } from "../schemas.ts";

const CopyBody = z.object({
  source: z.object({ bucket: z.string(), key: z.string(), versionId: z.string().min(1).optional() }),
  target: z.object({ bucket: z.string(), key: z.string() }),
  overwrite: z
    .boolean()
    .default(true)
    .describe("false: refuse (409) when the target exists (checked just before copying, not atomic)."),
});

/**
 * POST /v1/copy with a JSON body naming source and target. A route of its own rather than a
 * `:copy` suffix on the object path, because keys may legitimately end in ":copy".
 */
export function registerCopyRoute(fastify: FastifyInstance, app: AppContext): void {
  fastify.withTypeProvider<ZodTypeProvider>().route({
    method: "POST",
    url: "/v1/copy",
    config: {
      access: {
        operation: "copy",
        audited: true,
        // `read` on the source, `write` on the target; the audit record names the target.
        body: (request) => {
          const { source, target } = request.body as z.output<typeof CopyBody>;
          return [
            {
              action: "read",
              bucket: source.bucket,
              key: normaliseKey(source.key),
              ...(source.versionId ? { versionId: source.versionId } : {}),
            },
            { action: "write", bucket: target.bucket, key: normaliseKey(target.key) },
          ];
        },
      },
    },
    schema: {
      tags: ["objects"],
      summary: "Copy an object within or across buckets (server side)",
      operationId: "copyObject",
      errors: ["ALREADY_EXISTS"],
      responseHeaders: { 201: [...OBJECT_HEADERS, "location"] },
      body: CopyBody,
      response: { 201: ObjectInfoSchema, ...problemResponses },
    },
    handler: async (request, reply) => {
      const { source, target, overwrite } = request.body;
      if (!overwrite) {
        const exists = await app.service.stat(target.bucket, target.key).then(
          () => true,
          (err: unknown) => {
            if (err instanceof StorageError && err.code === "NOT_FOUND") return false;
            throw err;
          },
        );
        if (exists) {
          throw new StorageError("ALREADY_EXISTS", "The target object already exists (overwrite is false).", {
            bucket: target.bucket,
            key: target.key,
          });
        }
      }
      const info = await app.service.copy(source, target, ownerOf(request), {
        signal: disconnectSignal(reply),
      });
      noteAudit(request, {
        key: info.key,
        versionId: info.versionId,
        bytes: info.size,
        details: { source: `${source.bucket}/${source.key}` },
      });
      return reply
        .code(201)
        .headers(objectHeaders(info))
        .header("location", objectPath(info.bucket, info.key))
        .send(objectJson(info));
    },
  });
}
