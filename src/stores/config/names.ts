import { StorageError } from "../../errors.ts";

/**
 * Document names are '/'-separated segments of letters, digits, '.', '_' and '-', each starting
 * with a letter or digit (so no '.', '..' or '_' segment: `_v` and `_schema` are the store's own).
 */

const SEGMENT = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
const MAX_NAME = 200;

export function checkName(name: string): string {
  const segments = name.split("/");
  if (name.length === 0 || name.length > MAX_NAME || !segments.every((s) => SEGMENT.test(s))) {
    throw new StorageError(
      "INVALID_ARGUMENT",
      `'${name.slice(0, MAX_NAME)}' is not a config name: use '/'-separated segments of letters, digits, '.', '_' and '-', each starting with a letter or digit, at most ${MAX_NAME} characters.`,
      { field: "name" },
    );
  }
  return name;
}

export function checkVersion(version: number, field = "version"): number {
  if (!Number.isSafeInteger(version) || version < 1) {
    throw new StorageError("INVALID_ARGUMENT", `${field} must be a version number (1, 2, ...).`, { field });
  }
  return version;
}

/** A flag's own name: one segment. */
export function checkFlagName(flag: string): string {
  if (!SEGMENT.test(flag)) {
    throw new StorageError(
      "INVALID_ARGUMENT",
      "A flag name is letters, digits, '.', '_' and '-', starting with a letter or digit (at most 64).",
      { field: "flag" },
    );
  }
  return flag;
}

export function checkSubject(subject: string): string {
  if (subject.length === 0 || subject.length > 256) {
    throw new StorageError("INVALID_ARGUMENT", "subject must be 1 to 256 characters.", { field: "subject" });
  }
  return subject;
}
