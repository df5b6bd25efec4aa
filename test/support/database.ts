import { randomBytes } from "node:crypto";
import pg from "pg";
import type { Config } from "../../src/config/config.ts";
import { Secret } from "../../src/config/secret.ts";

/** A metadata database of one suite's own. */
export interface OwnDatabase {
  /** "PostgreSQL" or "PGlite": what the suite runs on. */
  kind: "PostgreSQL" | "PGlite";
  /** Overrides for testEnv(): this database only (DATABASE_URL, or PGlite without one). */
  env: Record<string, string>;
  /** The same, for openDatabase(). */
  settings: Config["database"];
  /** Drops the PostgreSQL database, closing what is still connected (nothing to do for PGlite). */
  drop(): Promise<void>;
}

/**
 * For suites that read whole tables (every key, every audit record of an hour) and so must not see
 * other suites' rows: a fresh database on the DATABASE_URL server (the test role has CREATEDB; CI's
 * PostgreSQL is thrown away after the run), else PGlite at `pgliteDir`. Several processes (a
 * server and CLI children) may use the PostgreSQL one at once.
 *
 * A database rather than a schema (search_path) per suite: Kysely's migrator looks for its table in
 * every schema of the database, would find another suite's and not create this suite's own.
 */
export async function ownDatabase(label: string, pgliteDir = "memory://"): Promise<OwnDatabase> {
  const server = process.env.DATABASE_URL;
  if (!server) {
    return {
      kind: "PGlite",
      env: { DATABASE_URL: "", PGLITE_DATA_DIR: pgliteDir },
      settings: { url: undefined, pgliteDir },
      drop: async () => {},
    };
  }
  // Lowercase letters, digits and "_" only, so the name needs no quoting rules beyond "...".
  const name = `lumenslate_${label.toLowerCase().replace(/[^a-z0-9]+/g, "_")}_${randomBytes(4).toString("hex")}`;
  await admin(server, `create database "${name}"`);
  const url = new URL(server);
  url.pathname = `/${name}`;
  return {
    kind: "PostgreSQL",
    env: { DATABASE_URL: url.toString() },
    settings: { url: new Secret(url.toString()), pgliteDir: "" },
    drop: () => dropDatabase(server, name),
  };
}

/**
 * DROP ... WITH (FORCE) ends the suite's own connections, but not an autovacuum worker (a
 * superuser process) that a freshly seeded table attracts: PostgreSQL then refuses. Such a worker
 * gives way within moments, so try again for a while before failing.
 */
async function dropDatabase(server: string, name: string): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      await admin(server, `drop database if exists "${name}" with (force)`);
      return;
    } catch (err) {
      const busy = /pg_signal_backend|being accessed by other users/.test(String((err as Error).message));
      if (!busy || attempt >= 60) throw err;
      await new Promise((r) => setTimeout(r, 500));
    }
  }
}

/** One statement on the server's own database (CREATE/DROP DATABASE cannot run inside the target). */
async function admin(url: string, statement: string): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query(statement);
  } finally {
    await client.end();
  }
}
