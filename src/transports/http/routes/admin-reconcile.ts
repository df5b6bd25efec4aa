import type { FastifyInstance } from "fastify";
import type { ZodTypeProvider } from "fastify-type-provider-zod";
import { z } from "zod";
import type { AppContext } from "../../../app.ts";
import { reconcileBuckets, reportJson } from "../../../core/reconcile-buckets.ts";
import { noteAudit, SERVICE_WIDE, skipAudit } from "../access.ts";
import { problemResponses } from "../schemas.ts";

const ReconcileBody = z.object({
  buckets: z
    .array(z.string())
    .max(100)
    .optional()
    .describe("Buckets to check (default: every configured bucket that exists)."),
  repair: z
    .boolean()
    .optional()
    .describe(
      "Fix what is found: adopt unindexed objects, drop rows without objects, abort stale uploads (default: only report).",
    ),
  deleteUnindexed: z
    .boolean()
    .optional()
    .describe("With repair: delete objects the index does not know instead of adopting them."),
  staleUploadHours: z
    .number()
    .min(0)
    .optional()
    .describe("Incomplete multipart uploads older than this many hours are stale (default 24)."),
});

const keys = z.array(z.string());

const BucketReportSchema = z
  .object({
    bucket: z.string(),
    objects: z.number().int(),
    rows: z.number().int(),
    rowsWithoutObjects: keys.describe("Index rows whose object is gone."),
    objectsWithoutRows: keys.describe("Objects the index does not know (e.g. presigned uploads)."),
    mismatched: keys.describe("Keys whose size differs between the store and the index."),
    staleUploads: keys,
    repaired: z.number().int(),
    orphans: z
      .number()
      .int()
      .describe("rowsWithoutObjects + objectsWithoutRows + mismatched, counted in full."),
    unlisted: z
      .object({
        rowsWithoutObjects: z.number().int().optional(),
        objectsWithoutRows: z.number().int().optional(),
        mismatched: z.number().int().optional(),
        staleUploads: z.number().int().optional(),
      })
      .optional()
      .describe("Keys found beyond the first 1000 of a list (present only when a list was cut)."),
  })
  .meta({ id: "BucketReport" });

/**
 * POST /v1/admin/reconcile: compares the object store with the metadata index, as `reconcile`
 * does and with the same report. A dry run (the default) only reads and is not audited; a repair
 * changes both sides and is audited under the caller with what it did.
 */
export function registerAdminReconcileRoute(fastify: FastifyInstance, app: AppContext): void {
  fastify.withTypeProvider<ZodTypeProvider>().route({
    method: "POST",
    url: "/v1/admin/reconcile",
    config: { access: { operation: "reconcile", audited: true, url: () => [...SERVICE_WIDE] } },
    schema: {
      tags: ["admin"],
      summary: "reconcile: find (and with repair, fix) drift between the object store and the index",
      body: ReconcileBody,
      response: { 200: z.object({ reports: z.array(BucketReportSchema) }), ...problemResponses },
    },
    // A POST without a body takes every default: a dry run over every configured bucket.
    preValidation: async (request) => {
      request.body ??= {};
    },
    handler: async (request) => {
      const { buckets = [], repair = false, deleteUnindexed = false, staleUploadHours } = request.body;
      if (!repair) skipAudit(request);
      noteAudit(request, { details: { repair, deleteUnindexed, buckets: buckets.join(",") } });
      const reports = await reconcileBuckets(app.service, {
        buckets,
        configured: Object.values(app.config.buckets),
        repair,
        deleteUnindexed,
        ...(staleUploadHours === undefined ? {} : { staleUploadHours }),
      });
      noteAudit(request, {
        details: {
          repair,
          deleteUnindexed,
          buckets: reports.map((r) => r.bucket).join(","),
          repaired: reports.reduce((n, r) => n + r.repaired, 0),
        },
      });
      return { reports: reports.map(reportJson) };
    },
  });
}
