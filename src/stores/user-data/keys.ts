import { StorageError } from "../../errors.ts";

/**
 * Where a user's uploads live in the user-data bucket: `users/{userId}/{uploadId}/{filename}`.
 * The `users/` level matches the scope convention documented for API keys
 * (`user-data/users/{user_id}/:read,write`), so a key scoped that way, bound by `x-user-id`, reaches
 * exactly one user's files and the bucket's top level stays free for anything else.
 */

/** The same rule as a scope placeholder's bound value (security/scopes.ts): one safe path segment. */
const USER_ID = /^[A-Za-z0-9][A-Za-z0-9._@+=-]{0,127}$/;
const UPLOAD_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const MAX_FILENAME = 255;

export const userPrefix = (userId: string): string => `users/${checkUserId(userId)}/`;

export const fileKey = (userId: string, uploadId: string, filename: string): string =>
  `${userPrefix(userId)}${checkUploadId(uploadId)}/${checkFilename(filename)}`;

export function checkUserId(userId: string): string {
  if (!USER_ID.test(userId)) {
    throw new StorageError(
      "INVALID_ARGUMENT",
      "A user id is 1-128 letters, digits or . _ @ + = -, starting with a letter or digit.",
      { field: "userId" },
    );
  }
  return userId;
}

export function checkUploadId(uploadId: string): string {
  if (!UPLOAD_ID.test(uploadId)) {
    throw new StorageError("INVALID_ARGUMENT", "An upload id is a lowercase UUID.", { field: "uploadId" });
  }
  return uploadId;
}

/** One path segment: the file's own name, without folders (the upload id is the folder). */
export function checkFilename(raw: string): string {
  const filename = raw.normalize("NFC");
  const bad =
    filename === "" ||
    filename === "." ||
    filename === ".." ||
    filename.length > MAX_FILENAME ||
    /[/\\]/.test(filename) ||
    [...filename].some((c) => c.charCodeAt(0) < 0x20 || c === "\u007f");
  if (bad) {
    throw new StorageError(
      "INVALID_ARGUMENT",
      `A filename is one name of 1-${MAX_FILENAME} characters without '/', '\\' or control characters.`,
      { field: "filename" },
    );
  }
  return filename;
}

/** Splits a stored key back into its parts; undefined for anything not laid out by this store. */
export function parseFileKey(
  key: string,
): { userId: string; uploadId: string; filename: string } | undefined {
  const [users, userId, uploadId, ...rest] = key.split("/");
  if (users !== "users" || !userId || !uploadId || rest.length !== 1 || !rest[0]) return undefined;
  return { userId, uploadId, filename: rest[0] };
}
