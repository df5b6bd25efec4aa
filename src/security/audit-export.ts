import { sql } from "kysely";
import type { Logger } from "pino";
import type { StorageService } from "../core/storage-service.ts";
import type { Database } from "../metadata/database.ts";
import { writeLogObject } from "../stores/logs/objects.ts";
import type { AuditLog, AuditRecord } from "./audit.ts";
import { securityDb } from "./schema.ts";

/**
 * Hourly export of the audit trail to the logs bucket: each complete UTC hour becomes one object,
 * `audit/YYYY/MM/DD/HH.jsonl.gz` (gzip JSON lines, oldest record first), written once and noted in
 * audit_exports. Runs are idempotent — several instances exporting the same hour write the same
 * bytes — and stream page by page, so an hour's size does not decide the memory used.
 */

export interface AuditExportDeps {
  db: Database;
  audit: AuditLog;
  service: StorageService;
  bucket: string;
  compression: "gzip" | "none";
}

export interface AuditExportOptions {
  /** Also write the current, incomplete hour (under its final name; a later run replaces it). */
  includeCurrentHour?: boolean;
  /** Hours ending less than this long ago are left for the next run (default 300 s). */
  graceSeconds?: number;
  now?: Date;
}

export interface ExportedHour {
  hour: Date;
  bucket: string;
  key: string;
  records: number;
  /** False for the current hour written early with includeCurrentHour. */
  complete: boolean;
}

const HOUR_MS = 3_600_000;
const PAGE = 2_000;
/** After the last exported hour, look this far back for hours an earlier failed run skipped. */
const LOOKBACK_HOURS = 24;

const pad = (n: number) => String(n).padStart(2, "0");

export function exportKey(hour: Date, compression: "gzip" | "none"): string {
  const d = hour;
  const name = `${d.getUTCFullYear()}/${pad(d.getUTCMonth() + 1)}/${pad(d.getUTCDate())}/${pad(d.getUTCHours())}`;
  return `audit/${name}.jsonl${compression === "gzip" ? ".gz" : ""}`;
}

/** The JSON line for one record (the export's stable format). */
export const exportLine = (r: AuditRecord): string =>
  `${JSON.stringify({ ...r, time: r.time.toISOString() })}\n`;

export async function exportAudit(
  deps: AuditExportDeps,
  options: AuditExportOptions = {},
): Promise<ExportedHour[]> {
  const now = options.now ?? new Date();
  const grace = (options.graceSeconds ?? 300) * 1000;
  const currentHour = Math.floor(now.getTime() / HOUR_MS);
  const lastComplete = Math.floor((now.getTime() - grace) / HOUR_MS) - 1;
  const hours = await pendingHours(deps.db, lastComplete);
  if (options.includeCurrentHour) {
    // The hours not yet complete (the current one, and the last one while in its grace period).
    for (let h = lastComplete + 1; h <= currentHour; h++) if (!hours.includes(h)) hours.push(h);
  }
  const out: ExportedHour[] = [];
  for (const h of hours.sort((a, b) => a - b)) {
    const complete = h <= lastComplete;
    const result = await exportHour(deps, h);
    if (result.records === 0) continue;
    if (complete) {
      await securityDb(deps.db)
        .insertInto("audit_exports")
        .values({ hour: result.hour, object_key: result.key, records: result.records })
        .onConflict((c) => c.column("hour").doNothing())
        .execute();
    }
    out.push({ ...result, complete });
  }
  return out;
}

/** Hour numbers (epoch hours, UTC) with records, up to `last`, not yet exported. */
async function pendingHours(db: Database, last: number): Promise<number[]> {
  const sdb = securityDb(db);
  const newest = await sdb
    .selectFrom("audit_exports")
    .select((eb) => eb.fn.max("hour").as("hour"))
    .executeTakeFirst();
  const from =
    newest?.hour === null || newest?.hour === undefined
      ? undefined
      : new Date(new Date(newest.hour).getTime() - LOOKBACK_HOURS * HOUR_MS);
  const until = new Date((last + 1) * HOUR_MS);
  // Epoch arithmetic rather than date_trunc: independent of the session's time zone.
  const { rows } = await sql<{ h: string | number }>`
    select distinct floor(extract(epoch from time) / 3600)::bigint as h
    from audit_events
    where time < ${until} ${from ? sql`and time >= ${from}` : sql``}
      and floor(extract(epoch from time) / 3600)::bigint not in (
        select floor(extract(epoch from hour) / 3600)::bigint from audit_exports
      )`.execute(db);
  return rows.map((r) => Number(r.h));
}

async function exportHour(deps: AuditExportDeps, h: number): Promise<Omit<ExportedHour, "complete">> {
  const hour = new Date(h * HOUR_MS);
  const until = new Date((h + 1) * HOUR_MS);
  const key = exportKey(hour, deps.compression);
  // Look before writing: an hour without records writes nothing.
  const first = await deps.audit.query({ since: hour, until, limit: 1 });
  if (first.length === 0) return { hour, bucket: deps.bucket, key, records: 0 };
  let records = 0;
  async function* lines(): AsyncGenerator<string> {
    let afterId: number | undefined;
    for (;;) {
      const page = await deps.audit.query({
        since: hour,
        until,
        limit: PAGE,
        ...(afterId === undefined ? {} : { afterId }),
      });
      for (const r of page) {
        records++;
        yield exportLine(r);
      }
      if (page.length < PAGE) return;
      afterId = page.at(-1)?.id;
    }
  }
  // Written by the log archive's writer (stores/logs): one gzip stream, streamed page by page.
  await writeLogObject({
    service: deps.service,
    bucket: deps.bucket,
    key,
    compression: deps.compression,
    source: lines(),
    contentType: deps.compression === "gzip" ? "application/gzip" : "application/x-ndjson",
    owner: "lumenslate-audit",
  });
  return { hour, bucket: deps.bucket, key, records };
}

export interface AuditExporter {
  /** Runs one export now (skipped if one is already running). */
  runOnce(): Promise<ExportedHour[]>;
  stop(): void;
}

/**
 * Calls `run` every `intervalSeconds` (first run one minute after start, so start-up is not
 * slowed), never two at once; failures are logged and retried on the next tick.
 */
export function startAuditExporter(options: {
  intervalSeconds: number;
  run: () => Promise<ExportedHour[]>;
  logger: Logger;
  firstRunDelaySeconds?: number;
}): AuditExporter {
  let running: Promise<ExportedHour[]> | undefined;
  const runOnce = async () => {
    if (running) return [];
    running = options.run();
    try {
      const exported = await running;
      for (const e of exported) options.logger.info({ key: e.key, records: e.records }, "audit exported");
      return exported;
    } finally {
      running = undefined;
    }
  };
  const tick = () => {
    runOnce().catch((err: unknown) =>
      options.logger.error({ err }, "audit export failed; retrying next run"),
    );
  };
  const first = setTimeout(tick, (options.firstRunDelaySeconds ?? 60) * 1000);
  const every = setInterval(tick, options.intervalSeconds * 1000);
  first.unref();
  every.unref();
  return {
    runOnce,
    stop: () => {
      clearTimeout(first);
      clearInterval(every);
    },
  };
}
