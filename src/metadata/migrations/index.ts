import { type Kysely, type Migration, sql } from "kysely";

/**
 * Versioned migrations, applied in name order at start-up by Kysely's Migrator (which takes a lock,
 * so several instances starting at once apply each migration exactly once). Never edit a migration
 * that has shipped: add a new one.
 */
export const migrations: Record<string, Migration> = {
  "0001_object_versions": {
    async up(db: Kysely<unknown>) {
      // key uses the "C" collation so ordering is byte order (as S3 lists) and LIKE 'prefix%' can use the index.
      await sql`
        create table object_versions (
          bucket text not null,
          key text collate "C" not null,
          version_id text not null,
          size bigint not null check (size >= 0),
          sha256 char(64) not null,
          etag text not null,
          content_type text not null,
          metadata jsonb not null default '{}'::jsonb,
          owner text not null,
          is_latest boolean not null,
          created_at timestamptz not null default now(),
          updated_at timestamptz not null default now(),
          primary key (bucket, key, version_id)
        )`.execute(db);
      await sql`create index object_versions_latest_idx on object_versions (bucket, key) where is_latest`.execute(
        db,
      );
      await sql`create index object_versions_owner_idx on object_versions (owner)`.execute(db);
    },
  },
};
