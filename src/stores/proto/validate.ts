import { StorageError } from "../../errors.ts";
import { requireSemVer } from "./semver.ts";
import type { ProtoFileInput } from "./types.ts";

/**
 * What the registry refuses before it compiles anything: names that would escape their folder or
 * be ambiguous in the layout `{service}/{version}/{filename}`, versions that are not semver, and
 * sets that are empty, repeated or too large. Everything here is INVALID_ARGUMENT (or TOO_LARGE)
 * and happens before a byte is stored.
 */

const SERVICE = /^[a-z0-9][a-z0-9\-_.]{0,62}$/;
const LANGUAGE = /^[a-z0-9][a-z0-9_+-]{0,31}$/;
/** One path segment of a file name: printable, no separators or characters shells and tar mangle. */
const SEGMENT = /^[A-Za-z0-9_][A-Za-z0-9_.+-]*$/;
export const LATEST = "latest";

const invalid = (field: string, message: string) => new StorageError("INVALID_ARGUMENT", message, { field });

export function checkService(service: string): string {
  if (!SERVICE.test(service) || service.includes("..")) {
    throw invalid(
      "service",
      "A service name is 1-63 characters of a-z, 0-9, '-', '_' and '.', starting with a letter or digit.",
    );
  }
  return service;
}

/** A version to publish: semver, never the alias. */
export function checkPublishVersion(version: string): string {
  if (version === LATEST) {
    throw invalid("version", "'latest' is an alias for the newest version and cannot be published.");
  }
  requireSemVer(version);
  return version;
}

/** A version to read: semver or the alias. */
export function checkVersionOrAlias(version: string): string {
  if (version !== LATEST) requireSemVer(version);
  return version;
}

export function checkLanguage(language: string): string {
  if (!LANGUAGE.test(language)) {
    throw invalid(
      "language",
      "A language is 1-32 characters of a-z, 0-9, '_', '+' and '-' (e.g. typescript).",
    );
  }
  return language;
}

/**
 * A relative path inside the version: segments of safe characters, no '.' or '..', no absolute
 * path, no backslash (a Windows separator would make two names for one file).
 */
export function checkRelativePath(path: string, field = "filename"): string {
  const why =
    path.length === 0 || path.length > 512
      ? "is empty or longer than 512 characters"
      : path.startsWith("/")
        ? "is absolute"
        : path.includes("\\")
          ? "contains a backslash"
          : path.split("/").some((s) => s === "." || s === "..")
            ? "contains '.' or '..' segments"
            : !path.split("/").every((s) => SEGMENT.test(s))
              ? "has an empty segment or characters other than A-Z, a-z, 0-9, '_', '.', '+' and '-'"
              : undefined;
  if (why)
    throw invalid(
      field,
      `File name '${path.slice(0, 128)}' ${why}; use a relative path like foo/v1/foo.proto.`,
    );
  return path;
}

export function checkProtoSet(files: ProtoFileInput[], maxSetBytes: number): ProtoFileInput[] {
  if (files.length === 0) throw invalid("files", "A version needs at least one .proto file.");
  const total = files.reduce((sum, f) => sum + f.content.length, 0);
  if (total > maxSetBytes) {
    throw new StorageError(
      "TOO_LARGE",
      `The set of .proto files holds ${total} bytes, more than the limit of ${maxSetBytes} (PROTO_MAX_SET_BYTES).`,
      { limit: maxSetBytes, field: "files" },
    );
  }
  const seen = new Set<string>();
  for (const file of files) {
    checkRelativePath(file.filename);
    if (!file.filename.endsWith(".proto")) {
      throw invalid("filename", `File '${file.filename}' is not a .proto file.`);
    }
    if (file.filename.startsWith("google/protobuf/")) {
      throw invalid(
        "filename",
        `File '${file.filename}' would shadow a well-known type; choose another path.`,
      );
    }
    if (seen.has(file.filename))
      throw invalid("filename", `File '${file.filename}' appears twice in the set.`);
    seen.add(file.filename);
  }
  return [...files].sort((a, b) => (a.filename < b.filename ? -1 : a.filename > b.filename ? 1 : 0));
}
