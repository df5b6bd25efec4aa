import { chmod, lstat, mkdir, readdir } from "node:fs/promises";
import path from "node:path";

/**
 * The service's own data on disk (embedded database, local objects, the first admin key) is for its
 * user alone: the database's WAL holds key hashes, the objects are user data. Directories are 0700
 * and files 0600 whatever the umask; bin/lumenslate-storage.js also sets umask 077 for the files a
 * library creates without a mode of ours.
 */
export const PRIVATE_DIR_MODE = 0o700;
export const PRIVATE_FILE_MODE = 0o600;

/**
 * Creates `dir` (and missing parents) as 0700 and tightens an existing one to 0700, so data written
 * by an older version or under a loose umask is no longer reachable by other users. A directory owned
 * by someone else (EPERM: e.g. a volume's mount point) is left as it is: it is its owner's choice, and
 * the files inside are still created private.
 */
export async function ensurePrivateDir(dir: string): Promise<void> {
  await mkdir(dir, { recursive: true, mode: PRIVATE_DIR_MODE });
  await chmod(dir, PRIVATE_DIR_MODE).catch(unless("EPERM"));
}

/**
 * Removes group and other bits from everything below `dir`: for a library that sets its files'
 * modes itself, past any umask (PGlite writes its template database 0666 and some files 0644).
 * A file that vanished meanwhile, or that belongs to someone else, is skipped.
 */
export async function makeTreePrivate(dir: string): Promise<void> {
  const names = await readdir(dir, { recursive: true });
  for (const name of names) {
    const file = path.join(dir, name);
    const info = await lstat(file).catch(unless("ENOENT"));
    if (!info || info.isSymbolicLink() || (info.mode & 0o077) === 0) continue;
    await chmod(file, info.mode & 0o700).catch(unless("ENOENT", "EPERM"));
  }
}

/** A catch handler that turns the errors with these codes into undefined and rethrows the rest. */
export const unless =
  (...codes: string[]) =>
  (err: unknown): undefined => {
    if (!codes.includes((err as NodeJS.ErrnoException).code ?? "")) throw err;
    return undefined;
  };
