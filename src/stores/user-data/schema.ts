import type { ColumnType } from "kysely";
import type { Database } from "../../metadata/database.ts";

/** Kysely table types for the user-data tables (DDL: migration 0005_user_data_quota). */

/** int8 comes back from `pg` as a string; the repository converts. */
type Int8 = ColumnType<string | number, number, number>;

export interface UserDataUsageTable {
  user_id: string;
  /** Bytes and objects stored and settled (reservations not included). */
  bytes: Int8;
  objects: Int8;
  /** Per-user overrides of USER_DATA_QUOTA_BYTES / _OBJECTS; null uses the default. */
  quota_bytes: ColumnType<string | number | null, number | null | undefined, number | null>;
  quota_objects: ColumnType<string | number | null, number | null | undefined, number | null>;
  updated_at: ColumnType<Date, Date | undefined, Date>;
}

export interface UserDataReservationsTable {
  id: string;
  user_id: string;
  bytes: Int8;
  expires_at: Date;
}

// A type alias, not an interface: withTables<T> wants an indexable record type.
export type UserDataTables = {
  user_data_usage: UserDataUsageTable;
  user_data_reservations: UserDataReservationsTable;
};

export const userDataDb = (db: Database) => db.withTables<UserDataTables>();
export type UserDataDatabase = ReturnType<typeof userDataDb>;
