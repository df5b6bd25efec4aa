import { parseDurationSeconds } from "../config/size.ts";
import { StorageError } from "../errors.ts";
import type { AuditQuery, AuditSource } from "./audit.ts";

/**
 * An audit query as people and scripts write it (the CLI's options, the admin API's query string,
 * the gRPC request), turned into an AuditQuery. One parser, so `--since 24h` means the same
 * locally and through the service.
 */

/** The filters, as text; `label` names a field in messages (`--since` on the CLI, `since` elsewhere). */
export interface AuditQueryText {
  since?: string | undefined;
  until?: string | undefined;
  key?: string | undefined;
  bucket?: string | undefined;
  source?: string | undefined;
  limit?: number | undefined;
}

type Label = (field: string) => string;

const asIs: Label = (field) => field;

/** An ISO date/time, or a duration back from `now` (`15m`, `24h`, `7d`). */
export function parseAuditTime(text: string, field: string, label: Label = asIs, now = new Date()): Date {
  const seconds = parseDurationSeconds(text);
  if (seconds !== undefined) return new Date(now.getTime() - seconds * 1000);
  const date = /^\d{4}-\d{2}-\d{2}/.test(text) ? new Date(text) : new Date(Number.NaN);
  if (Number.isNaN(date.getTime())) {
    throw new StorageError(
      "INVALID_ARGUMENT",
      `${label(field)} expects an ISO date/time (2025-01-31T12:00Z) or a duration back from now (15m, 24h, 7d), got '${text.slice(0, 100)}'.`,
      { field },
    );
  }
  return date;
}

export function parseAuditSource(text: string, label: Label = asIs): AuditSource {
  if (text !== "service" && text !== "minio") {
    throw new StorageError("INVALID_ARGUMENT", `${label("source")} must be service or minio.`, {
      field: "source",
    });
  }
  return text;
}

/** Empty strings count as absent (a query string's `?since=` or a proto3 default). */
export function auditQueryFrom(text: AuditQueryText, label: Label = asIs, now = new Date()): AuditQuery {
  return {
    ...(text.since ? { since: parseAuditTime(text.since, "since", label, now) } : {}),
    ...(text.until ? { until: parseAuditTime(text.until, "until", label, now) } : {}),
    ...(text.key ? { keyId: text.key } : {}),
    ...(text.bucket ? { bucket: text.bucket } : {}),
    ...(text.source ? { source: parseAuditSource(text.source, label) } : {}),
    ...(text.limit === undefined ? {} : { limit: text.limit }),
  };
}
