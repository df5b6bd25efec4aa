import type { FastifyInstance } from "fastify";
import type { ZodTypeProvider } from "fastify-type-provider-zod";
import { z } from "zod";
import type { AppContext } from "../../../app.ts";
import { StorageError } from "../../../errors.ts";
import { normaliseKey, pathParams, queryString } from "../access.ts";
import { BucketParams, OBJECTS_URL, problemResponses, queryBoolean } from "../schemas.ts";

const ListQuery = z.object({
  prefix: z.string().optional().describe("Only keys starting with this."),
  delimiter: z
    .literal("/")
    .optional()
    .describe(
      'Only "/" is supported: list one level, with deeper keys folded into `prefixes` (the default).',
    ),
  recursive: queryBoolean.optional().describe("true: every key under the prefix, no `prefixes`."),
  cursor: z.string().min(1).optional().describe("`nextCursor` of the previous page."),
  limit: z.coerce
    .number()
    .int()
    .min(1)
    .max(1000)
    .optional()
    .describe("Page size (default and maximum 1000)."),
});

const ObjectSummarySchema = z
  .object({
    key: z.string(),
    versionId: z.string(),
    size: z.number().int(),
    etag: z.string(),
    sha256: z.string(),
    contentType: z.string(),
    lastModified: z.string(),
  })
  .meta({ id: "ObjectSummary" });

const ListResponse = z.object({
  objects: z.array(ObjectSummarySchema),
  prefixes: z.array(z.string()).describe("Common prefixes one level down (level listings only)."),
  nextCursor: z.string().optional().describe("Absent on the last page."),
});

/** A listing page as sent on the wire. */
export type ListingJson = z.output<typeof ListResponse>;

/** GET /v1/buckets/{bucket}/objects: a page of the listing, from the metadata index. */
export function registerListingRoute(fastify: FastifyInstance, app: AppContext): void {
  fastify.withTypeProvider<ZodTypeProvider>().route({
    method: "GET",
    url: OBJECTS_URL,
    config: {
      access: {
        operation: "list",
        audited: false,
        // The prefix must lie inside the scope, so a listing never shows names outside it.
        url: (request) => {
          const prefix = queryString(request, "prefix");
          return [
            {
              action: "list",
              bucket: pathParams(request).bucket,
              ...(prefix ? { key: normaliseKey(prefix) } : {}),
            },
          ];
        },
      },
    },
    schema: {
      tags: ["buckets"],
      summary: "List objects (prefix, one level or recursive, cursor pages)",
      operationId: "listObjects",
      params: BucketParams,
      querystring: ListQuery,
      response: { 200: ListResponse, ...problemResponses },
    },
    handler: async (request) => {
      const { prefix, delimiter, recursive, cursor, limit } = request.query;
      if (recursive && delimiter) {
        throw new StorageError("INVALID_ARGUMENT", "A recursive listing takes no delimiter.", {
          field: "delimiter",
        });
      }
      const page = await app.service.list(request.params.bucket, {
        prefix,
        recursive: recursive ?? false,
        cursor,
        limit,
      });
      return {
        objects: page.objects.map((o) => ({ ...o, lastModified: o.lastModified.toISOString() })),
        prefixes: page.prefixes,
        ...(page.nextCursor ? { nextCursor: page.nextCursor } : {}),
      };
    },
  });
}
