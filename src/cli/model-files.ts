import { mkdir, stat } from "node:fs/promises";
import path from "node:path";
import { StorageError } from "../errors.ts";
import type { ModelFile, ModelVersion } from "../stores/models/types.ts";
import { writeFileAtomically } from "./files.ts";
import type { LocalModelFile, ModelsApi } from "./models-api.ts";
import { localFiles, localPathFor } from "./tree.ts";

/** The local side of `model push` and `model pull`: which files go up, and where they come down. */

const invalid = (message: string, field = "path") => new StorageError("INVALID_ARGUMENT", message, { field });

/**
 * The files `model push <path...>` sends: a directory's regular files under their paths relative
 * to it, a file under its own name. Two sources naming the same manifest path are refused.
 */
export async function collectModelFiles(sources: readonly string[]): Promise<LocalModelFile[]> {
  const files: LocalModelFile[] = [];
  for (const source of sources) {
    const stats = await stat(source).catch((err: NodeJS.ErrnoException) => {
      throw invalid(`Cannot read ${source}: ${err.code ?? err.message}`);
    });
    if (stats.isDirectory()) {
      const found = await localFiles(source);
      if (found.length === 0) throw invalid(`The directory ${source} holds no files.`);
      files.push(...found.map((f) => ({ path: f.rel, file: f.path, size: f.size })));
    } else if (stats.isFile()) {
      files.push({ path: path.basename(source), file: source, size: stats.size });
    } else {
      throw invalid(`${source} is neither a regular file nor a directory.`);
    }
  }
  const seen = new Set<string>();
  for (const f of files) {
    if (seen.has(f.path)) throw invalid(`Two of the paths given would both be stored as '${f.path}'.`);
    seen.add(f.path);
  }
  return files;
}

/** The manifest's files that a pull takes: all of them, or the one `--file` names. */
export function pickFiles(version: ModelVersion, only: string | undefined): ModelFile[] {
  if (only === undefined) return version.files;
  const file = version.files.find((f) => f.path === only);
  if (!file) {
    throw new StorageError(
      "NOT_FOUND",
      `${version.modelType} ${version.version} has no file '${only}' (it has ${version.files.length}).`,
      { path: only },
    );
  }
  return [file];
}

/**
 * Writes each file under `dir` at its manifest path. Every file goes to a temporary name beside
 * its target and is renamed only once all its bytes arrived and matched the manifest's sha256, so
 * a failed pull leaves no partial or unverified file (files finished before it stay).
 */
export async function pullFiles(
  api: ModelsApi,
  version: ModelVersion,
  files: readonly ModelFile[],
  dir: string,
  options: { signal: AbortSignal; onProgress?: (bytes: number) => void },
): Promise<{ path: string; file: string; size: number; sha256: string }[]> {
  const written: { path: string; file: string; size: number; sha256: string }[] = [];
  let before = 0;
  for (const f of files) {
    // A manifest path that would leave `dir` (a service's answer is not trusted here) is refused.
    const target = localPathFor(dir, f.path);
    if (!target) throw invalid(`The manifest path '${f.path}' cannot be a file name.`);
    await mkdir(path.dirname(target), { recursive: true });
    const body = await api.openFile(version.modelType, version.version, f, options.signal);
    const base = before;
    const size = await writeFileAtomically(body, target, {
      signal: options.signal,
      onProgress: (bytes) => options.onProgress?.(base + bytes),
    });
    before += size;
    written.push({ path: f.path, file: target, size, sha256: f.sha256 });
  }
  return written;
}
