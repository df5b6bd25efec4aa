import { StorageError } from "../errors.ts";
import type { CliContext } from "./context.ts";
import { profilePath } from "./remote/profile.ts";

/** What `--help` adds: how remote mode is chosen, and where commands would go right now. */

export function remoteModeHelp(ctx: CliContext): string {
  const profile = profilePath(ctx.env) ?? "$XDG_CONFIG_HOME/lumenslate-storage/profile.json";
  return `
Remote mode (put, get, ls, stat, rm, cp, presign, mirror, keys, audit query, reconcile):
  --endpoint <url> --token <token>   on the command, or LUMENSLATE_URL and LUMENSLATE_TOKEN
  login <url>                        saves a URL and token to ${profile} (mode 0600)
  A serve running on the embedded database is used automatically (its address is in the data
  directory's lock file). Otherwise commands run locally on the configured database; an embedded
  database belongs to one process at a time.`;
}

/** --endpoint/--token as written on a command line, without parsing it (help is printed before). */
export function flagsIn(argv: readonly string[]): { endpoint?: string; token?: string } {
  const flags: { endpoint?: string; token?: string } = {};
  argv.forEach((arg, i) => {
    for (const name of ["endpoint", "token"] as const) {
      if (arg === `--${name}`) flags[name] = argv[i + 1];
      else if (arg.startsWith(`--${name}=`)) flags[name] = arg.slice(name.length + 3);
    }
  });
  return flags;
}

export const wantsHelp = (argv: readonly string[]) =>
  argv.length === 0 || argv[0] === "help" || argv.includes("--help") || argv.includes("-h");

/** "target: ..." for help output; never throws (a broken configuration is reported in the line). */
export async function describeTarget(ctx: CliContext, argv: readonly string[]): Promise<string> {
  try {
    const target = await ctx.target(flagsIn(argv));
    if (target) return `target: ${target.url} (${target.origin})`;
    const database = ctx.config().database;
    return database.url
      ? "target: local mode (PostgreSQL from DATABASE_URL)"
      : `target: local mode (embedded database in ${database.pgliteDir})`;
  } catch (err) {
    const message = err instanceof StorageError || err instanceof Error ? err.message : String(err);
    return `target: unknown (${message.replace(/\s*\n\s*/g, " ")})`;
  }
}
