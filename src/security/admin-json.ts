import type { ApiKeyInfo } from "./api-keys.ts";
import type { AuditRecord } from "./audit.ts";
import { formatScope } from "./scopes.ts";

/**
 * The JSON shapes of key and audit results, one for every way they leave the service: the CLI's
 * `--json` output, the admin HTTP API, and through it the CLI's remote mode, which prints what the
 * API answers as it is. Dates are ISO strings and absent values null, so the shape never depends
 * on who produced it. Nothing here ever holds a secret: tokens travel beside these, on purpose.
 */

export interface ApiKeyInfoJson {
  id: string;
  service: string;
  /** `bucket[/prefix]:actions`, as `keys create --scope` takes them. */
  scopes: string[];
  /** null: RATE_LIMIT_REQUESTS applies. */
  rateLimit: number | null;
  createdAt: string;
  rotatedAt: string | null;
  revokedAt: string | null;
}

export const keyJson = (key: ApiKeyInfo): ApiKeyInfoJson => ({
  id: key.id,
  service: key.service,
  scopes: key.scopes.map(formatScope),
  rateLimit: key.rateLimit,
  createdAt: key.createdAt.toISOString(),
  rotatedAt: key.rotatedAt?.toISOString() ?? null,
  revokedAt: key.revokedAt?.toISOString() ?? null,
});

export type AuditRecordJson = Omit<AuditRecord, "time"> & { time: string };

export const auditJson = (record: AuditRecord): AuditRecordJson => ({
  ...record,
  time: record.time.toISOString(),
});
