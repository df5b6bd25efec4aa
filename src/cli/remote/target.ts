import { StorageError } from "../../errors.ts";
import type { Env } from "../context.ts";
import type { Profile } from "./profile.ts";

/**
 * Where a command goes: a service's HTTP API (remote mode) or, when nothing names one, this process
 * on the configured database (local mode). The first of these that names a URL wins:
 *   1. --endpoint (and --token)
 *   2. LUMENSLATE_URL (and LUMENSLATE_TOKEN)
 *   3. the profile `login` wrote
 *   4. the lock file of the embedded data directory, when a live `serve` holds it: the database
 *      belongs to that process, so the CLI goes through it.
 * The token is taken in the same order (--token, LUMENSLATE_TOKEN, the profile), except that the
 * profile's token goes only to the profile's own URL, so a credential never travels to a service it
 * was not made for; with a local serve, its first-start admin key file is the last resort.
 */

export interface RemoteFlags {
  endpoint?: string | undefined;
  token?: string | undefined;
}

/** What the lock file says about the process holding the embedded database (see data-dir-lock.ts). */
export interface LockHolder {
  pid: number;
  command: string;
  http?: string;
}

export interface RemoteTarget {
  /** Base URL without a trailing slash. */
  url: string;
  token?: string;
  /** Where the URL came from, for `--help` and messages: "from --endpoint", ... */
  origin: string;
}

export interface TargetSources {
  flags: RemoteFlags;
  env: Env;
  /** The profile's path (for messages) and a reader; undefined path: no profile is looked for. */
  profile?: { path: string; read: () => Promise<Profile | undefined> };
  /** The live holder of the embedded data directory, if any (undefined for PostgreSQL or memory). */
  readLock: () => Promise<LockHolder | undefined>;
  /** The first-start admin key's token, if its file is readable. */
  readKeyFile: () => Promise<string | undefined>;
}

/** Checks and normalises a service URL: http(s), no query or fragment, no trailing slash. */
export function normaliseUrl(text: string, field: string): string {
  let url: URL;
  try {
    url = new URL(text.trim());
  } catch {
    throw new StorageError(
      "INVALID_ARGUMENT",
      `${field} expects a URL such as http://host:8080, got '${text}'.`,
      {
        field,
      },
    );
  }
  if ((url.protocol !== "http:" && url.protocol !== "https:") || url.search || url.hash || url.username) {
    throw new StorageError(
      "INVALID_ARGUMENT",
      `${field} expects an http:// or https:// URL without credentials, query or fragment, got '${text}'.`,
      { field },
    );
  }
  return `${url.origin}${url.pathname}`.replace(/\/+$/, "");
}

const nonEmpty = (value: string | undefined) => (value?.trim() ? value.trim() : undefined);

/** The remote target, or undefined for local mode. */
export async function resolveTarget(sources: TargetSources): Promise<RemoteTarget | undefined> {
  const { flags, env } = sources;
  const explicitToken = nonEmpty(flags.token) ?? nonEmpty(env.LUMENSLATE_TOKEN);
  const withToken = (url: string, origin: string, fallback?: string): RemoteTarget => {
    const token = explicitToken ?? fallback;
    return { url, origin, ...(token ? { token } : {}) };
  };

  // Read only when needed: a broken profile must not stand in the way of --endpoint with --token.
  let profile: Profile | undefined;
  let profileRead = false;
  const readProfile = async () => {
    if (!profileRead) profile = await sources.profile?.read();
    profileRead = true;
    return profile;
  };
  const profileToken = async (url: string) => {
    if (explicitToken) return undefined;
    const p = await readProfile();
    return p && normaliseUrl(p.url, "the profile's url") === url ? p.token : undefined;
  };

  const endpoint = nonEmpty(flags.endpoint);
  if (endpoint) {
    const url = normaliseUrl(endpoint, "--endpoint");
    return withToken(url, "from --endpoint", await profileToken(url));
  }
  const envUrl = nonEmpty(env.LUMENSLATE_URL);
  if (envUrl) {
    const url = normaliseUrl(envUrl, "LUMENSLATE_URL");
    return withToken(url, "from LUMENSLATE_URL", await profileToken(url));
  }
  const saved = await readProfile();
  if (saved) {
    const url = normaliseUrl(saved.url, "the profile's url");
    return withToken(url, `from the profile ${sources.profile?.path}`, saved.token);
  }
  const holder = await sources.readLock();
  if (holder?.http) {
    const url = normaliseUrl(holder.http, "the lock file's http address");
    const keyFile = explicitToken ? undefined : await sources.readKeyFile();
    return withToken(
      url,
      `from the running ${holder.command} (pid ${holder.pid}) in the data directory's lock file`,
      keyFile,
    );
  }
  return undefined;
}
