import { z } from "zod";
import { validateKey } from "../../core/keys.ts";
import { StorageError } from "../../errors.ts";
import type { ModelMetadata } from "./types.ts";

/**
 * What the model store refuses before it touches anything: names that could escape their place in
 * the bucket or the scopes (`{type}/` and `blobs/` are prefixes keys are scoped to), and metadata
 * of the wrong shape. Everything here is INVALID_ARGUMENT.
 */

export const LATEST = "latest";

const TYPE = /^[a-z0-9][a-z0-9_.-]{0,62}$/;
const VERSION = /^[A-Za-z0-9][A-Za-z0-9_.+-]{0,127}$/;
const ALIAS = /^[a-z][a-z0-9_.-]{0,62}$/;
const HEX64 = /^[0-9a-fA-F]{64}$/;
/** The store's own prefixes in the bucket: a model type of that name would share them (and their scopes). */
const RESERVED_TYPES = new Set(["blobs", "staging", "gc"]);
const MAX_PATH_BYTES = 512;
export const MAX_FILES = 10_000;

const invalid = (field: string, message: string) => new StorageError("INVALID_ARGUMENT", message, { field });

export function checkModelType(modelType: string): string {
  if (!TYPE.test(modelType) || modelType.includes("..") || RESERVED_TYPES.has(modelType)) {
    throw invalid(
      "modelType",
      "A model type is 1-63 characters of a-z, 0-9, '-', '_' and '.', starting with a letter or digit " +
        "(not 'blobs', 'staging' or 'gc').",
    );
  }
  return modelType;
}

/** A version to publish: never 'latest', which always means the newest version. */
export function checkVersion(version: string, field = "version"): string {
  if (!VERSION.test(version) || version.includes("..") || version === LATEST) {
    throw invalid(
      field,
      "A version is 1-128 characters of A-Z, a-z, 0-9, '.', '_', '+' and '-', starting with a letter or " +
        "digit (not 'latest').",
    );
  }
  return version;
}

/** A named alias; 'latest' is kept by the store and cannot be set or removed. */
export function checkAlias(alias: string): string {
  if (alias === LATEST) {
    throw invalid("alias", "'latest' always points at the newest version and cannot be set or removed.");
  }
  if (!ALIAS.test(alias) || alias.includes("..")) {
    throw invalid(
      "alias",
      "An alias is 1-63 characters of a-z, 0-9, '-', '_' and '.', starting with a letter (e.g. production).",
    );
  }
  return alias;
}

/** A version or an alias, as reads take. */
export function checkRef(ref: string): string {
  if (ref === LATEST || ALIAS.test(ref)) return ref;
  return checkVersion(ref, "ref");
}

export function checkSha256(sha256: string, field = "sha256"): string {
  if (!HEX64.test(sha256)) throw invalid(field, "A sha256 is 64 hex characters.");
  return sha256.toLowerCase();
}

/** A file's path inside its version: an object key's rules (no '..', no leading '/'), relative and short. */
export function checkFilePath(path: string): string {
  const p = validateKey(path, "path");
  if (p.endsWith("/")) throw invalid("path", "A file path must name a file, not end with '/'.");
  if (Buffer.byteLength(p, "utf8") > MAX_PATH_BYTES) {
    throw invalid("path", `A file path is at most ${MAX_PATH_BYTES} bytes of UTF-8.`);
  }
  return p;
}

/** The files of a manifest: 1..MAX_FILES, no path twice. */
export function checkFileList<T extends { path: string }>(files: readonly T[]): T[] {
  if (files.length === 0) throw invalid("files", "A model version needs at least one file.");
  if (files.length > MAX_FILES) throw invalid("files", `A model version has at most ${MAX_FILES} files.`);
  const seen = new Set<string>();
  return files.map((f) => {
    const path = checkFilePath(f.path);
    if (seen.has(path)) throw invalid("path", `The file '${path}' is listed twice.`);
    seen.add(path);
    return { ...f, path };
  });
}

const text = (max: number) => z.string().max(max);
const word = z
  .string()
  .regex(/^[A-Za-z0-9_.:-]{1,64}$/, "1-64 characters of A-Z, a-z, 0-9, '_', '.', ':', '-'");
const MetadataSchema = z.strictObject({
  framework: text(100).optional(),
  metrics: z.record(word, z.number().finite()).optional(),
  tags: z.array(word).max(64).optional(),
  description: text(4096).optional(),
  parentVersion: z.string().optional(),
  extra: z.record(word, text(1024)).optional(),
});

export function checkMetadata(metadata: ModelMetadata | undefined): ModelMetadata {
  const parsed = MetadataSchema.safeParse(metadata ?? {});
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const where = issue?.path.join(".") || "metadata";
    throw invalid(`metadata.${where}`.replace(/\.metadata$/, ""), `metadata.${where}: ${issue?.message}`);
  }
  const m = parsed.data;
  if (m.parentVersion !== undefined) checkVersion(m.parentVersion, "metadata.parentVersion");
  if (Object.keys(m.metrics ?? {}).length > 256 || Object.keys(m.extra ?? {}).length > 256) {
    throw invalid("metadata", "metrics and extra take at most 256 entries each.");
  }
  // Drop undefined members, so what is stored (JSON) and returned match.
  return JSON.parse(JSON.stringify(m)) as ModelMetadata;
}
