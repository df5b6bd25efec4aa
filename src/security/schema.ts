import type { ColumnType, Generated, Kysely } from "kysely";
import type { Database } from "../metadata/database.ts";
import type { DatabaseSchema } from "../metadata/schema.ts";

/** Kysely table types for the security tables (DDL: migration 0002_security). */

export interface ApiKeysTable {
  id: string;
  service: string;
  secret_hash: string;
  /** jsonb: StoredScope[]; written as a JSON string. */
  scopes: ColumnType<unknown, string, string>;
  rate_limit: number | null;
  created_at: ColumnType<Date, Date | undefined, never>;
  rotated_at: ColumnType<Date | null, Date | null | undefined, Date | null>;
  revoked_at: ColumnType<Date | null, Date | null | undefined, Date | null>;
}

export interface AuditEventsTable {
  id: Generated<string | number>;
  time: ColumnType<Date, Date | undefined, never>;
  source: "service" | "minio";
  key_id: string | null;
  service: string | null;
  protocol: string | null;
  action: string;
  bucket: string | null;
  key: string | null;
  version_id: string | null;
  result: string;
  /** int8 comes back from `pg` as a string. */
  bytes: ColumnType<string | number | null, number | null, never>;
  request_id: string | null;
  client_address: string | null;
  details: ColumnType<Record<string, unknown>, string, never>;
}

export interface AuditExportsTable {
  hour: Date;
  object_key: string;
  records: number;
  exported_at: ColumnType<Date, Date | undefined, never>;
}

// A type alias, not an interface: withTables<T> wants an indexable record type.
export type SecurityTables = {
  api_keys: ApiKeysTable;
  audit_events: AuditEventsTable;
  audit_exports: AuditExportsTable;
};

export type SecurityDatabase = Kysely<DatabaseSchema & SecurityTables>;

/** The metadata database seen with the security tables (schema.ts only declares the core tables). */
export const securityDb = (db: Database): SecurityDatabase => db.withTables<SecurityTables>();
