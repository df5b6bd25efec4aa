import type { FastifyInstance } from "fastify";
import type { ZodTypeProvider } from "fastify-type-provider-zod";
import { z } from "zod";
import type { AppContext } from "../../../app.ts";
import { StorageError } from "../../../errors.ts";
import { normaliseKey, noteAudit, pathParams, queryString } from "../access.ts";
import { evaluatePreconditions } from "../conditional.ts";
import { disconnectSignal } from "../disconnect.ts";
import { VERSION_HEADER } from "../headers.ts";
import {
  BucketParams,
  OBJECT_URL,
  OBJECTS_URL,
  ObjectParams,
  problemResponses,
  queryBoolean,
} from "../schemas.ts";

const DeleteResult = z.object({
  deleted: z.number().int(),
  failed: z.number().int(),
  errors: z
    .array(z.object({ key: z.string(), code: z.string(), message: z.string() }))
    .describe("The first few failures."),
});

/** DELETE of one object (or one version) and batched DELETE by prefix. */
export function registerDeleteRoutes(fastify: FastifyInstance, app: AppContext): void {
  const f = fastify.withTypeProvider<ZodTypeProvider>();

  f.route({
    method: "DELETE",
    url: OBJECT_URL,
    config: {
      access: {
        operation: "delete",
        audited: true,
        url: (request) => {
          const { bucket, rest } = pathParams(request);
          const versionId = queryString(request, "versionId");
          return [{ action: "delete", bucket, key: normaliseKey(rest), ...(versionId ? { versionId } : {}) }];
        },
      },
    },
    schema: {
      tags: ["objects"],
      summary: "Delete an object, or one version of it",
      operationId: "deleteObject",
      errors: ["PRECONDITION_FAILED"],
      requestHeaders: ["if-match", "if-unmodified-since"],
      responseHeaders: { 204: ["x-version-id", "x-delete-marker"] },
      description:
        "Without versionId a versioned bucket keeps the data under a delete marker. If-Match (an ETag) " +
        "makes the delete conditional (checked just before deleting; 412 when it does not hold).",
      params: ObjectParams,
      querystring: z.object({
        versionId: z.string().min(1).optional().describe("Delete exactly this version."),
      }),
      response: {
        204: z.undefined().describe("Deleted; x-version-id and x-delete-marker say what happened"),
        ...problemResponses,
      },
    },
    handler: async (request, reply) => {
      const { bucket, "*": key } = request.params;
      const { versionId } = request.query;
      if (request.headers["if-match"] !== undefined || request.headers["if-unmodified-since"] !== undefined) {
        const info = await app.service.stat(bucket, key, versionId);
        if (evaluatePreconditions("DELETE", request.headers, info) !== "proceed") {
          throw new StorageError(
            "PRECONDITION_FAILED",
            "The object does not match If-Match / If-Unmodified-Since.",
            {
              field: "if-match",
            },
          );
        }
      }
      const result = await app.service.delete(bucket, key, versionId);
      noteAudit(request, {
        ...(result.versionId ? { versionId: result.versionId } : {}),
        details: { deleteMarker: result.deleteMarker },
      });
      if (result.versionId) reply.header(VERSION_HEADER, result.versionId);
      return reply.header("x-delete-marker", String(result.deleteMarker)).code(204).send();
    },
  });

  f.route({
    method: "DELETE",
    url: OBJECTS_URL,
    config: {
      access: {
        operation: "delete-prefix",
        audited: true,
        // `delete` on the prefix itself: an empty prefix (the whole bucket) needs a bucket-wide scope.
        url: (request) => {
          const prefix = queryString(request, "prefix");
          return [
            {
              action: "delete",
              bucket: pathParams(request).bucket,
              ...(prefix ? { key: normaliseKey(prefix) } : {}),
            },
          ];
        },
      },
    },
    schema: {
      tags: ["buckets"],
      summary: "Delete every object under a prefix (batched; reports counts)",
      operationId: "deletePrefix",
      description:
        "Deletes in batches of up to 1000 keys. An empty prefix (the whole bucket) is refused unless all=true. " +
        "Failures are counted, not fatal: check `failed`.",
      params: BucketParams,
      querystring: z.object({
        prefix: z.string().optional().describe("Keys starting with this are deleted."),
        all: queryBoolean.optional().describe("true: allow an empty prefix, i.e. the whole bucket."),
      }),
      response: { 200: DeleteResult, ...problemResponses },
    },
    handler: async (request, reply) => {
      const { prefix, all } = request.query;
      const result = await app.service.deleteByPrefix(request.params.bucket, prefix, {
        all: all ?? false,
        signal: disconnectSignal(reply),
      });
      noteAudit(request, { details: { deleted: result.deleted, failed: result.failed } });
      return result;
    },
  });
}
