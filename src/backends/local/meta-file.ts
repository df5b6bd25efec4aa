import { randomUUID } from "node:crypto";
import { link, readFile, rename, rm, writeFile } from "node:fs/promises";
import { StorageError } from "../../errors.ts";
import { PRIVATE_FILE_MODE } from "../../private-fs.ts";
import { isMissing } from "./fs-errors.ts";

/** What meta.json holds for one object. `dataFile` is the sibling file with the bytes. */
export interface ObjectMeta {
  key: string;
  size: number;
  etag: string;
  contentType: string;
  metadata: Record<string, string>;
  lastModified: string;
  dataFile: string;
}

function isStringRecord(v: unknown): v is Record<string, string> {
  return (
    typeof v === "object" &&
    v !== null &&
    !Array.isArray(v) &&
    Object.values(v).every((x) => typeof x === "string")
  );
}

function parseMeta(text: string): ObjectMeta {
  let v: Partial<ObjectMeta>;
  try {
    v = JSON.parse(text) as Partial<ObjectMeta>;
  } catch (err) {
    throw new StorageError("DATA_CORRUPTED", "Object metadata file is not valid JSON.", {}, { cause: err });
  }
  if (
    typeof v !== "object" ||
    v === null ||
    typeof v.key !== "string" ||
    typeof v.size !== "number" ||
    !Number.isSafeInteger(v.size) ||
    v.size < 0 ||
    typeof v.etag !== "string" ||
    typeof v.contentType !== "string" ||
    !isStringRecord(v.metadata) ||
    typeof v.lastModified !== "string" ||
    Number.isNaN(Date.parse(v.lastModified)) ||
    typeof v.dataFile !== "string"
  ) {
    throw new StorageError("DATA_CORRUPTED", "Object metadata file has an unexpected shape.");
  }
  return v as ObjectMeta;
}

/** Reads and checks meta.json; undefined when it (or its directory) does not exist. */
export async function readMeta(file: string): Promise<ObjectMeta | undefined> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (err) {
    if (isMissing(err)) return undefined;
    throw err;
  }
  return parseMeta(text);
}

/**
 * Atomic replace: write a temp file (flushed to disk) in the temp dir, then rename over the target,
 * so readers see either the old meta or the new one, never a torn file. With `exclusive`, link()
 * instead of rename(): it fails with EEXIST when the target exists, so create-if-absent holds even
 * against another process writing the same root (rename would silently replace).
 */
export async function writeMetaAtomic(
  tmpFile: (name: string) => string,
  target: string,
  meta: ObjectMeta,
  options: { exclusive?: boolean } = {},
) {
  const tmp = tmpFile(`${randomUUID()}.meta`);
  try {
    await writeFile(tmp, JSON.stringify(meta), { flag: "wx", flush: true, mode: PRIVATE_FILE_MODE });
    if (options.exclusive) await link(tmp, target);
    else await rename(tmp, target);
  } catch (err) {
    await rm(tmp, { force: true }).catch(() => {});
    throw err;
  }
  // The linked temp name is a second name for the same file; dropping it changes nothing visible.
  if (options.exclusive) await rm(tmp, { force: true }).catch(() => {});
}
