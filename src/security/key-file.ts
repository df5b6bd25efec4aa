import { mkdir, open, rm } from "node:fs/promises";
import path from "node:path";
import { ConfigError } from "../config/config.ts";
import type { Secret } from "../config/secret.ts";
import { PRIVATE_DIR_MODE, PRIVATE_FILE_MODE } from "../private-fs.ts";

/**
 * Hands the first admin key's token to the operator through a file only the service's user can
 * read, instead of a stream that log collectors keep. `wx` (O_CREAT|O_EXCL) never replaces an
 * existing file (it may hold the key of an earlier install) and never follows a link planted at the
 * path. Missing parent directories are created 0700; existing ones are left alone (the path is the
 * operator's choice and may sit in a shared directory), which is safe because the file itself is 0600.
 *
 * Throws ConfigError naming the path and the reason; the token never appears in it.
 */
export async function writeKeyFile(file: string, token: Secret): Promise<void> {
  const target = path.resolve(file);
  await mkdir(path.dirname(target), { recursive: true, mode: PRIVATE_DIR_MODE }).catch((err: unknown) => {
    throw keyFileError(target, `its directory could not be created (${describe(err)})`, err);
  });
  const handle = await open(target, "wx", PRIVATE_FILE_MODE).catch((err: unknown) => {
    const why =
      (err as NodeJS.ErrnoException).code === "EEXIST"
        ? "a file already exists there (it may hold the key of an earlier install: move it away)"
        : `it could not be created (${describe(err)})`;
    throw keyFileError(target, why, err);
  });
  try {
    // The mode given to open() is reduced by the umask; make it exactly 0600 either way.
    await handle.chmod(PRIVATE_FILE_MODE);
    await handle.writeFile(`${token.reveal()}\n`);
    await handle.sync();
    await handle.close();
  } catch (err) {
    await handle.close().catch(() => {});
    // A half-written file would hold no usable key, and would block the next attempt.
    await rm(target, { force: true }).catch(() => {});
    throw keyFileError(target, `it could not be written (${describe(err)})`, err);
  }
}

const describe = (err: unknown) =>
  (err as NodeJS.ErrnoException).code ?? (err instanceof Error ? err.message : String(err));

function keyFileError(target: string, why: string, cause: unknown): ConfigError {
  return new ConfigError(
    `The first admin API key was not created: its key file ${target} is unusable, ${why}. ` +
      "Set AUTH_BOOTSTRAP_KEY_FILE to a new file in a writable directory, or create a key with " +
      "`lumenslate-storage keys create --service admin --scope '*:admin'` and set AUTH_BOOTSTRAP_ADMIN=false.",
    { cause },
  );
}
