import type { FastifyInstance } from "fastify";
import type { ZodTypeProvider } from "fastify-type-provider-zod";
import { z } from "zod";
import type { AppContext } from "../../../app.ts";
import { MAX_LARGEST } from "../../../observability/storage-stats.ts";
import { pathParams, SERVICE_WIDE } from "../access.ts";
import { BucketParams, problemResponses, queryBoolean } from "../schemas.ts";
import {
  AlertCheckSchema,
  AlertListSchema,
  alertCheckJson,
  alertJson,
  BucketUsageSchema,
  StorageStatsSchema,
  statsJson,
  usageJson,
} from "./stats-schemas.ts";

const largest = z.coerce
  .number()
  .int()
  .min(0)
  .max(MAX_LARGEST)
  .optional()
  .describe("How many of the largest objects to list per bucket (default 10).");

/**
 * Storage statistics from the metadata index (GET /v1/stats for every bucket: admin; GET
 * /v1/buckets/{bucket}/usage: `list` on the bucket), and the alerts (admin). Reads, not audited.
 */
export function registerStatsRoutes(fastify: FastifyInstance, app: AppContext): void {
  const api = fastify.withTypeProvider<ZodTypeProvider>();
  api.route({
    method: "GET",
    url: "/v1/stats",
    config: { access: { operation: "stats", audited: false, url: () => [...SERVICE_WIDE] } },
    schema: {
      tags: ["stats"],
      summary: "Usage of every bucket and prefix from the index; with verify=true, drift against the store",
      operationId: "getStorageStats",
      querystring: z.object({
        largest,
        verify: queryBoolean
          .optional()
          .describe("Also compare the index with the store's own listing (walks every bucket)."),
      }),
      response: { 200: StorageStatsSchema, ...problemResponses },
    },
    handler: async (request) => {
      const { largest: n, verify } = request.query;
      const report = await app.stats.all(n === undefined ? {} : { largest: n });
      return statsJson(report, verify ? await app.stats.verify() : undefined);
    },
  });
  api.route({
    method: "GET",
    url: "/v1/buckets/:bucket/usage",
    config: {
      access: {
        operation: "usage",
        audited: false,
        url: (request) => [{ action: "list", bucket: pathParams(request).bucket }],
      },
    },
    schema: {
      tags: ["stats"],
      summary: "One bucket's usage per depth-1 prefix, from the index",
      operationId: "getBucketUsage",
      params: BucketParams,
      querystring: z.object({ largest }),
      response: { 200: BucketUsageSchema, ...problemResponses },
    },
    handler: async (request) => {
      const n = request.query.largest;
      return usageJson(await app.stats.bucket(request.params.bucket, n === undefined ? {} : { largest: n }));
    },
  });
  api.route({
    method: "GET",
    url: "/v1/admin/alerts",
    config: { access: { operation: "alerts.list", audited: false, url: () => [...SERVICE_WIDE] } },
    schema: {
      tags: ["admin"],
      summary: "Recorded alerts and their state (firing or resolved)",
      operationId: "listAlerts",
      response: { 200: AlertListSchema, ...problemResponses },
    },
    handler: async () => ({ alerts: (await app.alerts.list()).map(alertJson) }),
  });
  api.route({
    method: "POST",
    url: "/v1/admin/alerts/check",
    config: { access: { operation: "alerts.check", audited: false, url: () => [...SERVICE_WIDE] } },
    schema: {
      tags: ["admin"],
      summary: "Check every alert threshold now; state changes are announced as by the periodic check",
      operationId: "checkAlerts",
      response: { 200: AlertCheckSchema, ...problemResponses },
    },
    handler: async () => alertCheckJson(await app.alerts.check()),
  });
}
