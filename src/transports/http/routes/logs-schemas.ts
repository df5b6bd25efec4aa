import type { FastifyRequest } from "fastify";
import { z } from "zod";
import type { Action } from "../../../security/index.ts";
import type { Target } from "../access.ts";

/** Schemas and access targets shared by the log archive routes (logs.ts, logs-upload.ts). */

export const LOGS_TAG = "logs";

const service = z.string().min(1).describe("The service whose logs these are (a-z, 0-9, '.', '_', '-').");
const date = z.string().describe("The log's date, YYYY-MM-DD (UTC).");
const hour = z.string().describe("The log's hour, 00-23 (UTC).");
export const ServiceParams = z.object({ service });
export const DayParams = z.object({ service, date });
export const HourParams = z.object({ service, date, hour });
export const FileParams = z.object({
  service,
  date,
  hour,
  filename: z.string().describe("The log file's name (without .log; default file is 'app')."),
});

/**
 * Log objects sit under `{service}/{date}/...` in the logs bucket, so the target is the service's
 * (or the day's) prefix: a key scoped `logs/checkout/` reaches /v1/logs/checkout/... only.
 */
export const logTarget =
  (bucket: string, action: Action | readonly Action[]) =>
  (request: FastifyRequest): Target[] => {
    const p = request.params as { service?: string; date?: string };
    return [{ action, bucket, key: `${p.service ?? ""}/${p.date ? `${p.date}/` : ""}` }];
  };

export const HourFileSchema = z.object({
  service: z.string(),
  date: z.string(),
  hour: z.string(),
  filename: z.string(),
});

export const LogObjectSchema = z.object({
  key: z.string().describe("The object's key in the logs bucket."),
  hour: z.string(),
  filename: z.string(),
  part: z.boolean().describe("True for a batch not yet compacted into the hour's object."),
  size: z.number().int().describe("Stored (compressed) bytes."),
});

export const RotateReportSchema = z
  .object({
    service: z.string(),
    retentionDays: z.number().int(),
    dryRun: z.boolean(),
    cutoff: z.string().describe("Date partitions before this date (YYYY-MM-DD) are rotated."),
    partitions: z.array(
      z.object({
        date: z.string(),
        objects: z.number().int(),
        bytes: z.number().int(),
        deleted: z.number().int().optional(),
        failed: z.number().int().optional(),
      }),
    ),
    objects: z.number().int(),
    bytes: z.number().int(),
    deleted: z.number().int(),
    failed: z.number().int(),
  })
  .meta({ id: "LogRotateReport" });

export const CompactResultSchema = z.object({
  service: z.string(),
  date: z.string(),
  hour: z.string(),
  objects: z.number().int().describe("Compacted objects written (one per file with parts)."),
  parts: z.number().int().describe("Parts merged into them and deleted."),
  conflicts: z.number().int().describe("Files another instance compacted at the same moment."),
});
