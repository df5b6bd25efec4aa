import { randomBytes } from "node:crypto";
import { link, readFile, rename, unlink, writeFile } from "node:fs/promises";
import { PRIVATE_FILE_MODE, unless } from "../private-fs.ts";

// Small private files that change all at once or not at all, for the data-directory lock.

/**
 * Creates `file` with `content` unless it exists. The content goes to a private temporary file first
 * and is hard-linked into place (link fails on an existing name, like O_EXCL), so a reader never sees
 * a half-written lock; where hard links are unsupported, an O_EXCL create does the same job.
 */
export async function createExclusive(file: string, content: string): Promise<boolean> {
  const temp = tempName(file);
  await writeFile(temp, content, { mode: PRIVATE_FILE_MODE, flag: "wx" });
  try {
    await link(temp, file);
    return true;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "EEXIST") return false;
    if (code !== "EPERM" && code !== "ENOTSUP" && code !== "ENOSYS") throw err;
    try {
      await writeFile(file, content, { mode: PRIVATE_FILE_MODE, flag: "wx" });
      return true;
    } catch (fallback) {
      if ((fallback as NodeJS.ErrnoException).code === "EEXIST") return false;
      throw fallback;
    }
  } finally {
    await unlink(temp).catch(unless("ENOENT"));
  }
}

/** Replaces `file`'s content in one rename: readers see the old or the new, never a mix. */
export async function replace(file: string, content: string): Promise<void> {
  const temp = tempName(file);
  await writeFile(temp, content, { mode: PRIVATE_FILE_MODE, flag: "wx" });
  try {
    await rename(temp, file);
  } catch (err) {
    await unlink(temp).catch(unless("ENOENT"));
    throw err;
  }
}

/** The file's text, or undefined if there is no such file. */
export async function readText(file: string): Promise<string | undefined> {
  return readFile(file, "utf8").catch(unless("ENOENT"));
}

const tempName = (file: string) => `${file}.${process.pid}.${randomBytes(6).toString("hex")}.tmp`;
