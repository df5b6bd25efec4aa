import { Readable } from "node:stream";
import type { FastifyInstance, FastifyReply } from "fastify";
import type { ZodTypeProvider } from "fastify-type-provider-zod";
import { z } from "zod";
import type { AppContext } from "../../../app.ts";
import { noteAudit } from "../access.ts";
import { disconnectSignal } from "../disconnect.ts";
import { problemResponses } from "../schemas.ts";
import {
  CompactResultSchema,
  DayParams,
  HourFileSchema,
  HourParams,
  LOGS_TAG,
  LogObjectSchema,
  logTarget,
  RotateReportSchema,
  ServiceParams,
} from "./logs-schemas.ts";

/**
 * The log archive (stores/logs): batched appends, a day's lines read back, its objects, compaction
 * of an hour and rotation. Uploading a whole log file is in logs-upload.ts (a streaming scope).
 */

const DayQuery = z.object({
  fromHour: z.string().optional().describe("First hour to read, 00-23 (default 00)."),
  toHour: z.string().optional().describe("Last hour to read, inclusive (default 23)."),
  contains: z.string().optional().describe("Only lines containing this text."),
  regex: z
    .string()
    .optional()
    .describe("Only lines matching this regular expression (at most 256 characters)."),
});

export function registerLogRoutes(fastify: FastifyInstance, app: AppContext): void {
  const f = fastify.withTypeProvider<ZodTypeProvider>();
  const archive = app.logArchive;
  const bucket = app.config.buckets.logs;

  f.route({
    method: "POST",
    url: "/v1/logs/:service/append",
    config: { access: { operation: "logs.append", audited: true, url: logTarget(bucket, "write") } },
    schema: {
      tags: [LOGS_TAG],
      summary: "Append log lines to an hour's file (batched; written within LOG_STORAGE_FLUSH_INTERVAL)",
      description:
        "Lines are buffered by the serving instance and written as one part per batch (at " +
        "LOG_STORAGE_FLUSH_BYTES, after LOG_STORAGE_FLUSH_INTERVAL, or at shutdown); closed hours are " +
        "compacted into one object. The date and hour default to now (UTC). Use the upload route when " +
        "the lines must be stored before the call returns.",
      params: ServiceParams,
      body: z.object({
        lines: z.array(z.string().max(65_536)).min(1).max(10_000),
        date: z.string().optional().describe("YYYY-MM-DD (UTC); default today."),
        hour: z.string().optional().describe("00-23 (UTC); default the current hour, or 00 with a date."),
        filename: z.string().optional().describe("Default 'app'."),
      }),
      response: { 202: z.object({ file: HourFileSchema, accepted: z.number().int() }), ...problemResponses },
    },
    handler: async (request, reply) => {
      const { lines, date, hour, filename } = request.body;
      const file = await archive.append(
        {
          service: request.params.service,
          ...(date ? { date } : {}),
          ...(hour ? { hour } : {}),
          ...(filename ? { filename } : {}),
        },
        lines,
      );
      noteAudit(request, {
        bucket,
        key: `${file.service}/${file.date}/${file.hour}/`,
        details: { lines: lines.length },
      });
      return reply.code(202).send({ file, accepted: lines.length });
    },
  });

  f.route({
    method: "GET",
    url: "/v1/logs/:service/:date",
    config: { access: { operation: "logs.read", audited: false, url: logTarget(bucket, "read") } },
    schema: {
      tags: [LOGS_TAG],
      summary: "A day's log lines, decompressed, in time order (text/plain, one line each)",
      params: DayParams,
      querystring: DayQuery,
      response: {
        200: {
          description: "The lines, each ending in a newline",
          content: { "text/plain": { schema: z.string() } },
        },
        ...problemResponses,
      },
    },
    handler: async (request, reply) => {
      const lines = archive.read({ ...request.params, ...request.query }, disconnectSignal(reply));
      // The first line is read before answering, so a bad query or a missing bucket is a problem
      // response rather than a 200 cut short.
      const first = await lines.next();
      async function* text(): AsyncGenerator<string> {
        if (first.done) return;
        yield `${first.value}\n`;
        for await (const line of lines) yield `${line}\n`;
      }
      reply.type("text/plain; charset=utf-8").code(200);
      return (reply as FastifyReply).send(Readable.from(text()));
    },
  });

  f.route({
    method: "GET",
    url: "/v1/logs/:service/:date/objects",
    config: { access: { operation: "logs.objects", audited: false, url: logTarget(bucket, "list") } },
    schema: {
      tags: [LOGS_TAG],
      summary: "A day's log objects in reading order",
      params: DayParams,
      querystring: DayQuery.pick({ fromHour: true, toHour: true }),
      response: { 200: z.object({ objects: z.array(LogObjectSchema) }), ...problemResponses },
    },
    handler: async (request) => ({ objects: await archive.list({ ...request.params, ...request.query }) }),
  });

  f.route({
    method: "POST",
    url: "/v1/logs/:service/:date/:hour/compact",
    config: {
      access: { operation: "logs.compact", audited: true, url: logTarget(bucket, ["write", "delete"]) },
    },
    schema: {
      tags: [LOGS_TAG],
      summary: "Compact an hour's parts into one object per file now",
      params: HourParams,
      response: { 200: CompactResultSchema, ...problemResponses },
    },
    handler: async (request) => {
      const result = await archive.compact(request.params);
      noteAudit(request, { bucket, details: { objects: result.objects, parts: result.parts } });
      return result;
    },
  });

  f.route({
    method: "POST",
    url: "/v1/logs/:service/rotate",
    config: {
      access: { operation: "logs.rotate", audited: true, url: logTarget(bucket, ["list", "delete"]) },
    },
    schema: {
      tags: [LOGS_TAG],
      summary: "Delete date partitions older than the retention (dry run by default)",
      description:
        "Judged by the log's date in the key, not the upload time. Without `dryRun: false` nothing is " +
        "deleted and the report says what would be.",
      params: ServiceParams,
      body: z.object({
        retentionDays: z
          .number()
          .int()
          .min(1)
          .max(36_500)
          .optional()
          .describe("Default LOG_STORAGE_RETENTION_DAYS."),
        dryRun: z.boolean().optional().describe("Default true."),
      }),
      response: { 200: RotateReportSchema, ...problemResponses },
    },
    preValidation: async (request) => {
      request.body ??= {};
    },
    handler: async (request) => {
      const { retentionDays, dryRun } = request.body;
      const report = await archive.rotate({
        service: request.params.service,
        ...(retentionDays ? { retentionDays } : {}),
        ...(dryRun === undefined ? {} : { dryRun }),
      });
      noteAudit(request, {
        bucket,
        bytes: report.bytes,
        details: {
          dryRun: report.dryRun,
          cutoff: report.cutoff,
          objects: report.objects,
          deleted: report.deleted,
        },
      });
      return report;
    },
  });
}
