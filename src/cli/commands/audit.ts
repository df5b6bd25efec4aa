import type { Command } from "commander";
import { auditJson } from "../../security/admin-json.ts";
import type { AuditRecord } from "../../security/audit.ts";
import { MAX_QUERY_LIMIT } from "../../security/audit.ts";
import { auditQueryFrom, parseAuditTime } from "../../security/audit-query.ts";
import { createSecurity } from "../../security/index.ts";
import type { CliContext } from "../context.ts";
import { emit, formatTable } from "../output.ts";
import { commonOptions, parseInteger, remoteFlags, remoteOptions } from "./args.ts";

/** `audit query` and `audit export`: read the audit trail, or export complete hours to the logs bucket. */

const optionName = (field: string) => `--${field}`;

/** An ISO date/time, or a duration back from now (`15m`, `24h`, `7d`): shared with the admin API. */
export const parseSince = (text: string, option: string, now = new Date()): Date =>
  parseAuditTime(text, option, optionName, now);

// One JSON shape for a record, shared with the admin API (remote mode prints what the service answers).
export { auditJson };

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
  endpoint?: string;
  token?: string;
}

export function registerAudit(program: Command, ctx: CliContext): void {
  const audit = program
    .command("audit")
    .description("the audit trail (service calls and MinIO's own events)");

  remoteOptions(
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
    ),
  ).action(async (opts: QueryOptions) => {
    const query = auditQueryFrom(
      {
        ...opts,
        limit: opts.limit ? parseInteger(opts.limit, "limit", 1, MAX_QUERY_LIMIT) : undefined,
      },
      optionName,
    );
    const records = await ctx.withApi(remoteFlags(opts), (api) => api.audit(query));
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
