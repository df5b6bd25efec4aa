import type { ColumnType, Generated } from "kysely";

/** Kysely table types for the metadata index; the DDL lives in migrations/. */

export interface ObjectVersionsTable {
  bucket: string;
  key: string;
  version_id: string;
  /** int8 comes back from `pg` as a string; the repository converts. */
  size: ColumnType<string | number, number, number>;
  sha256: string;
  etag: string;
  content_type: string;
  metadata: ColumnType<Record<string, string>, string, string>;
  owner: string;
  is_latest: boolean;
  created_at: ColumnType<Date, Date | undefined, Date>;
  updated_at: ColumnType<Date, Date | undefined, Date>;
}

export interface DatabaseSchema {
  object_versions: ObjectVersionsTable;
}

export type { Generated };
