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
  "0002_security": {
    async up(db: Kysely<unknown>) {
      // API keys: only a slow hash of the secret is kept. Rows are never deleted (revoked_at marks
      // them), so "no key ever existed" stays decidable for the first-start admin key.
      await sql`
        create table api_keys (
          id text primary key,
          service text not null,
          secret_hash text not null,
          scopes jsonb not null,
          rate_limit integer check (rate_limit is null or rate_limit > 0),
          created_at timestamptz not null default now(),
          rotated_at timestamptz,
          revoked_at timestamptz
        )`.execute(db);
      // The audit trail: the service's own records and MinIO's webhook events side by side.
      await sql`
        create table audit_events (
          id bigint generated always as identity primary key,
          time timestamptz not null default now(),
          source text not null check (source in ('service', 'minio')),
          key_id text,
          service text,
          protocol text,
          action text not null,
          bucket text,
          key text,
          version_id text,
          result text not null,
          bytes bigint,
          request_id text,
          client_address text,
          details jsonb not null default '{}'::jsonb
        )`.execute(db);
      await sql`create index audit_events_time_idx on audit_events (time)`.execute(db);
      await sql`create index audit_events_key_time_idx on audit_events (key_id, time)`.execute(db);
      await sql`create index audit_events_bucket_time_idx on audit_events (bucket, time)`.execute(db);
      // Append-only, enforced by the database: rows can be added, never changed or removed.
      // (TRUNCATE is a table-level operator action and not affected.)
      await sql`
        create function audit_events_append_only() returns trigger language plpgsql as $$
        begin
          raise exception 'audit_events is append-only' using errcode = '42501';
        end
        $$`.execute(db);
      await sql`
        create trigger audit_events_append_only before update or delete on audit_events
        for each row execute function audit_events_append_only()`.execute(db);
      // One row per exported hour, so each hour is written to the logs bucket once.
      await sql`
        create table audit_exports (
          hour timestamptz primary key,
          object_key text not null,
          records integer not null,
          exported_at timestamptz not null default now()
        )`.execute(db);
    },
  },
  "0003_one_latest_per_key": {
    async up(db: Kysely<unknown>) {
      // Concurrent writers could leave a key with two latest rows (see MetadataRepository.recordVersion).
      // Keep the newest by (created_at, version_id), the order removeVersion promotes by: rows do not
      // carry the store's order, and the next write to the key settles it against the store. The table
      // lock keeps instances still on the old code from adding a duplicate before the index exists.
      await sql`lock table object_versions in share row exclusive mode`.execute(db);
      await sql`
        update object_versions o set is_latest = false, updated_at = now()
        from (
          select bucket, key, version_id,
                 row_number() over (partition by bucket, key order by created_at desc, version_id desc) as n
          from object_versions where is_latest
        ) ranked
        where ranked.n > 1
          and o.bucket = ranked.bucket and o.key = ranked.key and o.version_id = ranked.version_id`.execute(
        db,
      );
      await sql`drop index object_versions_latest_idx`.execute(db);
      await sql`create unique index object_versions_one_latest on object_versions (bucket, key) where is_latest`.execute(
        db,
      );
    },
  },
  "0004_rate_limits": {
    async up(db: Kysely<unknown>) {
      // Rate-limit budgets shared by every instance (src/security/rate-limit.ts). Columns in the
      // order and of the kinds rate-limiter-flexible's PostgreSQL store writes: points used in the
      // window, and when the window ends (ms since the epoch). Keys carry the deployment's prefix.
      await sql`
        create table rate_limits (
          key text primary key,
          points integer not null default 0,
          expire bigint
        )`.execute(db);
      await sql`create index rate_limits_expire_idx on rate_limits (expire)`.execute(db);
    },
  },
  "0005_temp_expiries": {
    async up(db: Kysely<unknown>) {
      // When each temp-store object expires (src/stores/temp): the sweep finds expired objects here
      // instead of reading every object's metadata. The object's own metadata stays the authority.
      await sql`
        create table temp_expiries (
          bucket text not null,
          key text collate "C" not null,
          expires_at timestamptz not null,
          size bigint not null check (size >= 0),
          primary key (bucket, key)
        )`.execute(db);
      await sql`create index temp_expiries_due_idx on temp_expiries (expires_at)`.execute(db);
    },
  },
  "0006_user_data_quota": {
    async up(db: Kysely<unknown>) {
      // Per-user quotas of the user-data store (src/stores/user-data/quota.ts): settled usage per
      // user, locked row by row so instances reserving at once are serialised, and the live
      // reservations of uploads in flight (they expire, so a crashed instance's do not count forever).
      await sql`
        create table user_data_usage (
          user_id text primary key,
          bytes bigint not null default 0 check (bytes >= 0),
          objects bigint not null default 0 check (objects >= 0),
          quota_bytes bigint check (quota_bytes is null or quota_bytes >= 0),
          quota_objects bigint check (quota_objects is null or quota_objects >= 0),
          updated_at timestamptz not null default now()
        )`.execute(db);
      await sql`
        create table user_data_reservations (
          id text primary key,
          user_id text not null references user_data_usage (user_id),
          bytes bigint not null check (bytes >= 0),
          expires_at timestamptz not null
        )`.execute(db);
      await sql`create index user_data_reservations_user_idx on user_data_reservations (user_id, expires_at)`.execute(
        db,
      );
    },
  },
  "0007_upload_sessions": {
    async up(db: Kysely<unknown>) {
      // Resumable upload sessions (src/core/upload-sessions.ts): one row per session, from create to
      // completed or aborted. claimed_at marks a completion in progress (so two completions of one
      // session never both record a version); version_id and etag are set once the store made the
      // object, so a completion interrupted after that resumes at verification.
      await sql`
        create table upload_sessions (
          id text primary key,
          bucket text not null,
          key text collate "C" not null,
          upload_id text not null,
          size bigint not null check (size >= 0),
          sha256 char(64) not null,
          part_size bigint not null check (part_size > 0),
          part_count integer not null check (part_count > 0),
          content_type text not null,
          metadata jsonb not null default '{}'::jsonb,
          owner text not null,
          state text not null check (state in ('open', 'completed', 'aborted')),
          claimed_at timestamptz,
          version_id text,
          etag text,
          created_at timestamptz not null default now(),
          expires_at timestamptz not null,
          completed_at timestamptz
        )`.execute(db);
      await sql`create index upload_sessions_open_idx on upload_sessions (expires_at) where state = 'open'`.execute(
        db,
      );
    },
  },
  "0008_model_registry": {
    async up(db: Kysely<unknown>) {
      // The model store's registry (src/stores/models/registry.ts), per model bucket (deployments
      // with different bucket prefixes may share a database): versions (id orders them, newest last,
      // and pages listings), the files of each version by content sha256 (gc asks which blobs are
      // referenced), and named aliases, which a version cannot lose unless its delete is forced.
      await sql`
        create table model_versions (
          id bigint generated always as identity unique,
          bucket text not null,
          model_type text collate "C" not null,
          version text collate "C" not null,
          metadata jsonb not null default '{}'::jsonb,
          uploader text not null,
          created_at timestamptz not null default now(),
          primary key (bucket, model_type, version)
        )`.execute(db);
      await sql`create index model_versions_type_id_idx on model_versions (bucket, model_type, id)`.execute(
        db,
      );
      await sql`create index model_versions_metadata_idx on model_versions using gin (metadata jsonb_path_ops)`.execute(
        db,
      );
      await sql`
        create table model_files (
          bucket text not null,
          model_type text collate "C" not null,
          version text collate "C" not null,
          path text collate "C" not null,
          sha256 char(64) not null,
          size bigint not null check (size >= 0),
          stored_size bigint not null check (stored_size >= 0),
          encoding text not null check (encoding in ('identity', 'gzip', 'zstd')),
          primary key (bucket, model_type, version, path),
          foreign key (bucket, model_type, version) references model_versions (bucket, model_type, version)
            on delete cascade
        )`.execute(db);
      await sql`create index model_files_sha256_idx on model_files (bucket, sha256)`.execute(db);
      await sql`
        create table model_aliases (
          bucket text not null,
          model_type text collate "C" not null,
          alias text collate "C" not null,
          version text collate "C" not null,
          updated_at timestamptz not null default now(),
          primary key (bucket, model_type, alias),
          foreign key (bucket, model_type, version) references model_versions (bucket, model_type, version)
            on delete cascade
        )`.execute(db);
      await sql`create index model_aliases_version_idx on model_aliases (bucket, model_type, version)`.execute(
        db,
      );
    },
  },
  "0009_alerts": {
    async up(db: Kysely<unknown>) {
      // Alert state (src/observability/alerts): one row per alert, so a breach is one alert across
      // checks and instances. Transitions are conditional updates (state <> the new state), so when
      // two instances see the same breach only one of them wins the transition and notifies.
      await sql`
        create table alerts (
          alert text primary key,
          state text not null check (state in ('firing', 'resolved')),
          value double precision not null,
          threshold double precision not null,
          message text not null,
          details jsonb not null default '{}'::jsonb,
          since timestamptz not null default now(),
          checked_at timestamptz not null default now()
        )`.execute(db);
    },
  },
};
