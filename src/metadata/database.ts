import { PGlite } from "@electric-sql/pglite";
import { Kysely, Migrator, PostgresDialect, sql } from "kysely";
import pg from "pg";
import type { Config } from "../config/config.ts";
import { StorageError } from "../errors.ts";
import { ensurePrivateDir, makeTreePrivate } from "../private-fs.ts";
import { acquireDataDirLock, type DataDirLock, describeProcess } from "./data-dir-lock.ts";
import { migrations } from "./migrations/index.ts";
import { PGliteDialect } from "./pglite-dialect.ts";
import type { DatabaseSchema } from "./schema.ts";

export type Database = Kysely<DatabaseSchema>;

/**
 * Opens the metadata database: a PostgreSQL server when DATABASE_URL is set, else embedded PGlite
 * under PGLITE_DATA_DIR ("memory://" keeps it in memory). Applies pending migrations before returning.
 * An embedded directory is locked for this process until the database is destroyed; `command` names
 * this process in the lock (by default the CLI's command words).
 */
export async function openDatabase(
  settings: Config["database"],
  options: { command?: string } = {},
): Promise<Database> {
  const db = settings.url
    ? serverDatabase(settings.url.reveal())
    : await embeddedDatabase(settings.pgliteDir, options.command ?? describeProcess());
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
  const db = new Kysely<DatabaseSchema>({ dialect: new PostgresDialect({ pool }) });
  pools.set(db, pool);
  return db;
}

const pools = new WeakMap<Database, pg.Pool>();

/**
 * The connection pool of a PostgreSQL server database (undefined for embedded PGlite): state that
 * instances of a deployment must share (rate-limit budgets) goes through it, with no pool of its
 * own. Closed with the database.
 */
export const sharedPool = (db: Database): pg.Pool | undefined => pools.get(db);

const locks = new WeakMap<Database, DataDirLock>();

/** The lock on an embedded database's directory (undefined for memory or a server): serve records its address there. */
export const dataDirLockOf = (db: Database): DataDirLock | undefined => locks.get(db);

async function embeddedDatabase(dir: string, command: string): Promise<Database> {
  if (dir === "memory://" || dir === "") {
    const pglite = await PGlite.create();
    return withClose(new Kysely<DatabaseSchema>({ dialect: new PGliteDialect(pglite) }), () =>
      pglite.close(),
    );
  }
  // The files inside (WAL included) hold key hashes and object metadata: private to this user.
  await ensurePrivateDir(dir);
  // Two PGlite instances on one directory do not see each other's writes and can corrupt it: the
  // lock keeps every other process (a second serve, a one-shot CLI command) out while this one runs.
  const lock = await acquireDataDirLock(dir, { command });
  let pglite: PGlite;
  try {
    pglite = await PGlite.create(dir);
    // PGlite sets some files' modes itself, past the umask: its template database (written on the
    // first start) 0666, files it writes through fopen (relcache init, statistics at shutdown) 0644.
    // Tightened after opening and after closing; in between the directory keeps others out.
    await makeTreePrivate(dir);
  } catch (err) {
    await lock.release();
    throw err;
  }
  const db = withClose(new Kysely<DatabaseSchema>({ dialect: new PGliteDialect(pglite) }), async () => {
    try {
      await pglite.close();
      await makeTreePrivate(dir);
    } finally {
      await lock.release();
    }
  });
  locks.set(db, lock);
  return db;
}

/** Kysely's destroy() does not know about PGlite: `close` runs after it, with the database. */
function withClose(db: Database, close: () => Promise<void>): Database {
  const destroy = db.destroy.bind(db);
  db.destroy = async () => {
    try {
      await destroy();
    } finally {
      await close();
    }
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
