import { execFile } from "node:child_process";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { Secret } from "../../src/config/secret.ts";
import { type OwnDatabase, ownDatabase } from "./database.ts";

const exec = promisify(execFile);
const SCRIPT = join(dirname(fileURLToPath(import.meta.url)), "../../scripts/start-postgres.sh");

/**
 * A PostgreSQL database of this suite's own that several service instances may share at once: a
 * fresh database on the DATABASE_URL server when set (CI), else a throwaway server started with
 * scripts/start-postgres.sh (what CI itself runs), stopped and removed by drop(). PGlite cannot
 * stand in: an embedded database belongs to the one process that opened it.
 */
export async function sharedPostgres(label: string): Promise<OwnDatabase> {
  if (process.env.DATABASE_URL) return ownDatabase(label);
  const { stdout } = await exec("bash", [SCRIPT]);
  // The script prints `export NAME='value'` lines only (progress goes to stderr).
  const exported = Object.fromEntries(
    [...stdout.matchAll(/^export (\w+)='([^']*)'$/gm)].map((m) => [m[1], m[2]]),
  );
  const url = exported.DATABASE_URL;
  const dir = exported.LUMENSLATE_PG_DIR;
  if (!url || !dir) throw new Error(`scripts/start-postgres.sh printed no DATABASE_URL:\n${stdout}`);
  return {
    kind: "PostgreSQL",
    env: { DATABASE_URL: url },
    settings: { url: new Secret(url), pgliteDir: "" },
    drop: async () => {
      await exec("bash", [SCRIPT, "stop", dir]);
    },
  };
}
