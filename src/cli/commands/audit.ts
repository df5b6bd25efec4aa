import type { Command } from "commander";
import { parseDurationSeconds } from "../../config/size.ts";
import { StorageError } from "../../errors.ts";
import type { AuditRecord } from "../../security/audit.ts";
import { MAX_QUERY_LIMIT } from "../../security/audit.ts";
import { createSecurity } from "../../security/index.ts";
import type { CliContext } from "../context.ts";
import { emit, formatTable } from "../output.ts";
import { commonOptions, parseInteger } from "./args.ts";

/** `audit query` and `audit export`: read the audit trail, or export complete hours to the logs bucket. */

/** An ISO date/time, or a duration back from now (`15m`, `24h`, `7d`). */
export function parseSince(text: string, option: string, now = new Date()): Date {
  const seconds = parseDurationSeconds(text);
  if (seconds !== undefined) return new Date(now.getTime() - seconds * 1000);
  const date = /^\d{4}-\d{2}-\d{2}/.test(text) ? new Date(text) : new Date(Number.NaN);
  if (Number.isNaN(date.getTime())) {
    throw new StorageError(
      "INVALID_ARGUMENT",
      `--${option} expects an ISO date/time (2025-01-31T12:00Z) or a duration back from now (15m, 24h, 7d), got '${text}'.`,
      { field: option },
    );
  }
  return date;
}

export const auditJson = (r: AuditRecord) => ({ ...r, time: r.time.toISOString() });

export function auditText(records: readonly AuditRecord[]): string {
  if (records.length === 0) return "no audit records\n";
  return formatTable([
    ["time", "source", "key", "service", "protocol", "action", "result", "bytes", "target"],
    ...records.map((r) => [
      r.time.toISOString(),
      r.source,
      r.keyId ?? "-",
      r.service ?? "-",
      r.protocol ?? "-",
      r.action,
      r.result,
      r.bytes === null ? "-" : String(r.bytes),
      r.bucket ? `${r.bucket}${r.key ? `/${r.key}` : ""}${r.versionId ? ` (${r.versionId})` : ""}` : "-",
    ]),
  ]);
}

interface QueryOptions {
  since?: string;
  until?: string;
  key?: string;
  bucket?: string;
  source?: string;
  limit?: string;
  json?: boolean;
}

export function registerAudit(program: Command, ctx: CliContext): void {
  const audit = program
    .command("audit")
    .description("the audit trail (service calls and MinIO's own events)");

  commonOptions(
    audit
      .command("query")
      .description("list audit records, oldest first")
      .option("--since <time>", "ISO date/time, or a duration back from now (15m, 24h, 7d)")
      .option("--until <time>", "ISO date/time, or a duration back from now")
      .option("--key <id>", "only this API key id (or MinIO access key)")
      .option("--bucket <name>", "only this bucket")
      .option("--source <source>", "service or minio")
      .option("--limit <n>", `at most this many records (default 1000, max ${MAX_QUERY_LIMIT})`),
  ).action(async (opts: QueryOptions) => {
    if (opts.source !== undefined && opts.source !== "service" && opts.source !== "minio") {
      throw new StorageError("INVALID_ARGUMENT", "--source must be service or minio.", { field: "source" });
    }
    const source = opts.source as "service" | "minio" | undefined;
    const query = {
      ...(opts.since ? { since: parseSince(opts.since, "since") } : {}),
      ...(opts.until ? { until: parseSince(opts.until, "until") } : {}),
      ...(opts.key ? { keyId: opts.key } : {}),
      ...(opts.bucket ? { bucket: opts.bucket } : {}),
      ...(source ? { source } : {}),
      ...(opts.limit ? { limit: parseInteger(opts.limit, "limit", 1, MAX_QUERY_LIMIT) } : {}),
    };
    const records = await ctx.withApp("one-shot", (app) =>
      createSecurity({
        config: app.config,
        db: app.db,
        service: app.service,
        logger: app.logger,
      }).audit.query(query),
    );
    emit(
      ctx.output(opts),
      () => records.map(auditJson),
      () => auditText(records),
    );
  });

  commonOptions(
    audit
      .command("export")
      .description("write every complete hour not yet exported to the logs bucket (gzip JSON lines)")
      .option("--include-current", "also write the current, incomplete hour (a later run replaces it)"),
  ).action(async (opts: { includeCurrent?: boolean; json?: boolean }) => {
    const exported = await ctx.withApp("one-shot", (app) =>
      createSecurity({
        config: app.config,
        db: app.db,
        service: app.service,
        logger: app.logger,
      }).exportAudit({
        includeCurrentHour: opts.includeCurrent === true,
      }),
    );
    emit(
      ctx.output(opts),
      () => exported.map((e) => ({ ...e, hour: e.hour.toISOString() })),
      () =>
        exported.length === 0
          ? "nothing to export\n"
          : formatTable([
              ["hour", "records", "object", "state"],
              ...exported.map((e) => [
                e.hour.toISOString(),
                String(e.records),
                `${e.bucket}/${e.key}`,
                e.complete ? "complete" : "partial",
              ]),
            ]),
    );
  });
}
