import { chmod, readFile, rename, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import { StorageError } from "../../errors.ts";
import { ensurePrivateDir, PRIVATE_FILE_MODE } from "../../private-fs.ts";
import type { Env } from "../context.ts";

/**
 * The profile `login` writes: the service's URL and a token, like `mc alias set` or `aws configure`.
 * It holds a credential, so it is written 0600 in a 0700 directory, whatever the umask.
 */
export interface Profile {
  url: string;
  token?: string;
}

/** `${XDG_CONFIG_HOME:-$HOME/.config}/lumenslate-storage/profile.json`; undefined without either variable. */
export function profilePath(env: Env): string | undefined {
  const base = env.XDG_CONFIG_HOME || (env.HOME ? path.join(env.HOME, ".config") : undefined);
  return base ? path.join(base, "lumenslate-storage", "profile.json") : undefined;
}

const broken = (file: string, why: string) =>
  new StorageError(
    "INVALID_ARGUMENT",
    `The profile ${file} ${why}: run \`lumenslate-storage login <url>\` again, or remove it.`,
    { field: "profile" },
  );

/** The profile, or undefined when there is none. */
export async function readProfile(file: string): Promise<Profile | undefined> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw broken(file, `cannot be read (${(err as NodeJS.ErrnoException).code ?? "error"})`);
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw broken(file, "is not valid JSON");
  }
  const { url, token } = (value ?? {}) as { url?: unknown; token?: unknown };
  if (typeof url !== "string" || (token !== undefined && typeof token !== "string")) {
    throw broken(file, 'does not hold {"url": string, "token": string}');
  }
  return { url, ...(token ? { token } : {}) };
}

/** Replaces the profile atomically (a private temp file renamed over it). */
export async function writeProfile(file: string, profile: Profile): Promise<void> {
  await ensurePrivateDir(path.dirname(file));
  const temp = `${file}.${process.pid}.tmp`;
  try {
    await writeFile(temp, `${JSON.stringify(profile, null, 2)}\n`, { mode: PRIVATE_FILE_MODE, flag: "wx" });
    await chmod(temp, PRIVATE_FILE_MODE); // the mode above is filtered by the umask
    await rename(temp, file);
  } catch (err) {
    await rm(temp, { force: true });
    throw err;
  }
}
