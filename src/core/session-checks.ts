import { StorageError } from "../errors.ts";
import type { SessionRow } from "../metadata/upload-sessions.ts";
import { sha256Base64 } from "./session-parts.ts";
import type { SessionRequest } from "./session-types.ts";

/** The refusals of upload sessions (upload-sessions.ts) that need nothing but the request or the row. */

/** Part URLs one call may ask for (a 10,000-part session asks in batches). */
export const MAX_URLS_PER_CALL = 1000;

/** What only a session needs beyond an upload's checks: the declared digest, size and owner. */
export function checkSessionFields(req: SessionRequest): void {
  if (typeof req.sha256 !== "string") {
    throw new StorageError(
      "INVALID_ARGUMENT",
      "An upload session needs the object's sha256 (64 hex characters).",
      {
        field: "sha256",
      },
    );
  }
  if (typeof req.size !== "number") {
    throw new StorageError("INVALID_ARGUMENT", "An upload session needs the object's size in bytes.", {
      field: "size",
    });
  }
  if (!req.owner)
    throw new StorageError("INVALID_ARGUMENT", "An upload session needs an owner.", { field: "owner" });
}

/**
 * The parts asked for, each with its sha256 in base64 (as the store's checksum header carries it):
 * 1 to MAX_URLS_PER_CALL distinct numbers within the session's part count, each with its sha256
 * (the session's upload demands it: the store checks the body against it).
 */
export function checkPartRequests(
  requested: { partNumber: number; sha256?: string }[],
  partCount: number,
): { partNumber: number; sha256: string }[] {
  if (!Array.isArray(requested) || requested.length === 0 || requested.length > MAX_URLS_PER_CALL) {
    throw new StorageError("INVALID_ARGUMENT", `Ask for 1 to ${MAX_URLS_PER_CALL} parts at a time.`, {
      field: "parts",
    });
  }
  const seen = new Set<number>();
  return requested.map(({ partNumber, sha256 }, i) => {
    if (
      !Number.isSafeInteger(partNumber) ||
      partNumber < 1 ||
      partNumber > partCount ||
      seen.has(partNumber)
    ) {
      throw new StorageError(
        "INVALID_ARGUMENT",
        `Part numbers must be distinct whole numbers from 1 to ${partCount} (this session's part count).`,
        { field: `parts[${i}].partNumber`, limit: partCount },
      );
    }
    seen.add(partNumber);
    if (sha256 === undefined) {
      throw new StorageError(
        "INVALID_ARGUMENT",
        "Each part needs its sha256 (hex): it is signed into the part's URL and the store refuses a body that does not match.",
        { field: `parts[${i}].sha256` },
      );
    }
    return { partNumber, sha256: sha256Base64(sha256, `parts[${i}].sha256`) };
  });
}

/** The row, if the session is open and not past its expiry; else PRECONDITION_FAILED saying which. */
export function stillOpen(row: SessionRow): SessionRow {
  if (row.state !== "open") {
    throw new StorageError("PRECONDITION_FAILED", `The upload session is ${row.state}.`, {
      state: row.state,
    });
  }
  if (row.expiresAt.getTime() <= Date.now()) {
    throw new StorageError(
      "PRECONDITION_FAILED",
      `The upload session expired at ${row.expiresAt.toISOString()} (UPLOAD_SESSION_TTL): start a new session.`,
      { state: "expired" },
    );
  }
  return row;
}

export const noMultipartBackend = () =>
  new StorageError(
    "UNSUPPORTED_OPERATION",
    "Upload sessions need an S3/MinIO backend (clients upload parts straight to it); this one is local: upload through the service instead.",
  );

export const noSessionTable = () =>
  new StorageError("UNSUPPORTED_OPERATION", "Upload sessions need the metadata database.");

/** PRECONDITION_FAILED for a session in the wrong state for the call ("The upload session <what>."). */
export const busy = (what: string, state: string) =>
  new StorageError("PRECONDITION_FAILED", `The upload session ${what}.`, {
    state: state === "open" ? "completing" : state,
  });

/** Another caller's session is as unknown as one that never existed. */
export const unknownSession = (id: unknown) =>
  new StorageError("NOT_FOUND", `No upload session '${String(id).slice(0, 64)}' for this caller.`, {
    field: "id",
  });
