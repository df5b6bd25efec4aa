import { PGlite } from "@electric-sql/pglite";
import { Kysely, Migrator, PostgresDialect, sql } from "kysely";
import pg from "pg";
import type { Config } from "../config/config.ts";
import { StorageError } from "../errors.ts";
import { ensurePrivateDir, makeTreePrivate } from "../private-fs.ts";
import { migrations } from "./migrations/index.ts";
import { PGliteDialect } from "./pglite-dialect.ts";
import type { DatabaseSchema } from "./schema.ts";

export type Database = Kysely<DatabaseSchema>;

/**
 * Opens the metadata database: a PostgreSQL server when DATABASE_URL is set, else embedded PGlite
 * under PGLITE_DATA_DIR ("memory://" keeps it in memory). Applies pending migrations before returning.
 */
export async function openDatabase(settings: Config["database"]): Promise<Database> {
  const db = settings.url
    ? serverDatabase(settings.url.reveal())
    : await embeddedDatabase(settings.pgliteDir);
  try {
    await migrate(db);
  } catch (err) {
    await db.destroy();
    throw new StorageError(
      "UNAVAILABLE",
      "The metadata database could not be prepared (migrations failed).",
      {},
      {
        cause: err,
      },
    );
  }
  return db;
}

function serverDatabase(url: string): Database {
  const pool = new pg.Pool({
    connectionString: url,
    max: 10,
    connectionTimeoutMillis: 5_000,
    idleTimeoutMillis: 30_000,
  });
  // An idle client losing its connection must not crash the process; the next query reports it.
  pool.on("error", () => {});
  return new Kysely<DatabaseSchema>({ dialect: new PostgresDialect({ pool }) });
}

async function embeddedDatabase(dir: string): Promise<Database> {
  const inMemory = dir === "memory://" || dir === "";
  // The files inside (WAL included) hold key hashes and object metadata: private to this user.
  if (!inMemory) await ensurePrivateDir(dir);
  const pglite = await PGlite.create(inMemory ? undefined : dir);
  // PGlite sets some files' modes itself, past the umask: its template database (written on the
  // first start) 0666, files it writes through fopen (relcache init, statistics at shutdown) 0644.
  // Tightened after opening and after closing; in between the directory keeps others out.
  if (!inMemory) await makeTreePrivate(dir);
  const db = new Kysely<DatabaseSchema>({ dialect: new PGliteDialect(pglite) });
  // Kysely's destroy() does not know about PGlite; close it with the database.
  const destroy = db.destroy.bind(db);
  db.destroy = async () => {
    await destroy();
    await pglite.close();
    if (!inMemory) await makeTreePrivate(dir);
  };
  return db;
}

async function migrate(db: Database): Promise<void> {
  const migrator = new Migrator({
    db,
    provider: { getMigrations: async () => migrations },
    migrationTableName: "lumenslate_migrations",
    migrationLockTableName: "lumenslate_migrations_lock",
  });
  const { error } = await migrator.migrateToLatest();
  if (error) throw error;
}

export async function pingDatabase(db: Database): Promise<void> {
  try {
    await sql`select 1`.execute(db);
  } catch (err) {
    throw new StorageError("UNAVAILABLE", "The metadata database could not be reached.", {}, { cause: err });
  }
}
