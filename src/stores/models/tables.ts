import type { ColumnType, Generated } from "kysely";
import type { Database } from "../../metadata/database.ts";

/**
 * The model registry's own tables (migration 0008_model_registry): versions with their metadata,
 * the files of each version (path → content sha256), and named aliases, each row under its model
 * bucket. Blobs themselves are objects with rows in object_versions, like any other.
 */

// Type aliases, not interfaces: withTables<T> wants an indexable record type.
type ModelVersionsTable = {
  id: Generated<string | number>;
  bucket: string;
  model_type: string;
  version: string;
  metadata: ColumnType<unknown, string, string>;
  uploader: string;
  created_at: ColumnType<Date, Date | undefined, Date>;
};

type ModelFilesTable = {
  bucket: string;
  model_type: string;
  version: string;
  path: string;
  sha256: string;
  /** int8 comes back from `pg` as a string. */
  size: ColumnType<string | number, number, number>;
  stored_size: ColumnType<string | number, number, number>;
  encoding: string;
};

type ModelAliasesTable = {
  bucket: string;
  model_type: string;
  alias: string;
  version: string;
  updated_at: ColumnType<Date, Date | undefined, Date>;
};

export type ModelTables = {
  model_versions: ModelVersionsTable;
  model_files: ModelFilesTable;
  model_aliases: ModelAliasesTable;
};

export const modelDb = (db: Database) => db.withTables<ModelTables>();
export type ModelDatabase = ReturnType<typeof modelDb>;
