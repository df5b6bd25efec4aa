import { type Kysely, sql } from "kysely";
import { decodeCursor } from "../src/cursor.ts";
import type { DatabaseSchema } from "../src/metadata/schema.ts";

/**
 * The listing queries as they were before the loose index scan (MetadataRepository.list up to
 * issue 18), kept here only so bench/scale.ts can show before and after on the same rows. The
 * folder shape groups every key under the prefix on each page.
 */

const likePrefix = (prefix: string): string => `${prefix.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;

export async function oldList(
  db: Kysely<DatabaseSchema>,
  bucket: string,
  options: { prefix?: string; delimiter?: string; cursor?: string; limit: number },
): Promise<number> {
  const prefix = options.prefix ?? "";
  const after = options.cursor ? decodeCursor(options.cursor) : "";
  const limit = options.limit;
  if (!options.delimiter) {
    const rows = await db
      .selectFrom("object_versions")
      .selectAll()
      .where("bucket", "=", bucket)
      .where("is_latest", "=", true)
      .where(sql<boolean>`key like ${likePrefix(prefix)} escape '\\'`)
      .where("key", ">", after)
      .orderBy("key")
      .limit(limit + 1)
      .execute();
    return rows.length;
  }
  const start = prefix.length + 1;
  const { rows } = await sql<{ entry: string; is_prefix: boolean }>`
    select entry, bool_or(is_prefix) as is_prefix from (
      select case when strpos(substr(key, ${start}), ${options.delimiter}) > 0
             then substr(key, 1, ${prefix.length} + strpos(substr(key, ${start}), ${options.delimiter}) + ${options.delimiter.length} - 1)
             else key end collate "C" as entry,
             strpos(substr(key, ${start}), ${options.delimiter}) > 0 as is_prefix
      from object_versions
      where bucket = ${bucket} and is_latest and key like ${likePrefix(prefix)} escape '\\'
    ) entries
    where entry > ${after}
    group by entry order by entry limit ${limit + 1}`.execute(db);
  const keys = rows
    .slice(0, limit)
    .filter((r) => !r.is_prefix)
    .map((r) => r.entry);
  if (keys.length > 0) {
    await db
      .selectFrom("object_versions")
      .selectAll()
      .where("bucket", "=", bucket)
      .where("is_latest", "=", true)
      .where("key", "in", keys)
      .orderBy("key")
      .execute();
  }
  return rows.length;
}
