import { type Kysely, sql } from "kysely";

/**
 * A large metadata index written straight into PostgreSQL (one INSERT ... SELECT over
 * generate_series per shape, seconds for a million rows), for the plan test and the scale
 * benchmark. The shapes are the ones listings must stay cheap on:
 * - wide: `scale/dNNNNN/fNNNN.bin`, `folders` folders of `files` files each (one folder level);
 * - deep: `deep/l1/.../l8/fNNNN.bin`, `deepFiles` keys eight levels down;
 * - history: every tenth wide key also has an older, non-latest version (rows the latest-rows
 *   index leaves out).
 * Rows are latest "null" versions unless noted; `bucket` should be a bucket of the caller's own.
 */
export interface SeedShape {
  bucket: string;
  folders: number;
  files: number;
  deepFiles: number;
}

export const DEEP_PREFIX = "deep/l1/l2/l3/l4/l5/l6/l7/l8/";

export const wideKey = (folder: number, file: number): string =>
  `scale/d${String(folder).padStart(5, "0")}/f${String(file).padStart(4, "0")}.bin`;

export const deepKey = (file: number): string => `${DEEP_PREFIX}f${String(file).padStart(4, "0")}.bin`;

/** Rows the shape adds (latest and history together). */
export const seededRows = (s: SeedShape): number =>
  s.folders * s.files + Math.ceil((s.folders * s.files) / 10) + s.deepFiles;

// biome-ignore lint/suspicious/noExplicitAny: any database whose schema has object_versions
export async function seedIndex(db: Kysely<any>, shape: SeedShape): Promise<void> {
  const { bucket, folders, files, deepFiles } = shape;
  const columns = sql`(bucket, key, version_id, size, sha256, etag, content_type, metadata, owner, is_latest, created_at, updated_at)`;
  const wide = sql`format('scale/d%s/f%s.bin', lpad((i / ${files}::int)::text, 5, '0'), lpad((i % ${files}::int)::text, 4, '0'))`;
  await sql`
    insert into object_versions ${columns}
    select ${bucket}, ${wide}, 'null', 1024, repeat('a', 64), '"seed"', 'application/octet-stream',
           '{}'::jsonb, 'seed', true, now(), now()
    from generate_series(0, ${folders * files - 1}::int) i`.execute(db);
  await sql`
    insert into object_versions ${columns}
    select ${bucket}, ${wide}, 'old', 512, repeat('b', 64), '"old"', 'application/octet-stream',
           '{}'::jsonb, 'seed', false, now() - interval '1 day', now() - interval '1 day'
    from generate_series(0, ${folders * files - 1}::int, 10) i`.execute(db);
  await sql`
    insert into object_versions ${columns}
    select ${bucket}, ${DEEP_PREFIX} || format('f%s.bin', lpad(i::text, 4, '0')), 'null', 1024,
           repeat('a', 64), '"seed"', 'application/octet-stream', '{}'::jsonb, 'seed', true, now(), now()
    from generate_series(0, ${deepFiles - 1}::int) i`.execute(db);
  await sql`analyze object_versions`.execute(db);
}
