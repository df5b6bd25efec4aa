import { createReadStream, createWriteStream } from "node:fs";
import { stat as fsStat, rename, rm } from "node:fs/promises";
import { pipeline } from "node:stream/promises";
import { asStorageError, StorageError } from "../errors.ts";
import type { Download, ObjectInfo, UploadRequest } from "./types.ts";

/**
 * Local-file conveniences for the CLI and tests, on top of upload and download: a file's size is
 * announced up front (so a too-large file is refused before a byte moves), and a download reaches
 * its path only whole and verified.
 */

export async function uploadFromFile(
  upload: (req: UploadRequest) => Promise<ObjectInfo>,
  path: string,
  req: Omit<UploadRequest, "body">,
): Promise<ObjectInfo> {
  const size = await fsStat(path).then(
    (s) => s.size,
    (err) => {
      throw new StorageError("INVALID_ARGUMENT", `Cannot read ${path}: ${(err as Error).message}`, {
        field: "path",
      });
    },
  );
  return upload({ ...req, body: createReadStream(path, { highWaterMark: 1024 * 1024 }), expectedSize: size });
}

/** A temp file beside the target is renamed only after a verified read. */
export async function downloadIntoFile(
  download: Promise<Download>,
  path: string,
  signal: AbortSignal | undefined,
): Promise<ObjectInfo> {
  const got = await download;
  const temp = `${path}.partial-${process.pid}-${Date.now()}`;
  try {
    await pipeline(got.body, createWriteStream(temp), { signal });
    await rename(temp, path);
  } catch (err) {
    await rm(temp, { force: true });
    throw asStorageError(err);
  }
  return got.info;
}
