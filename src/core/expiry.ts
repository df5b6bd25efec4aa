import { StorageError } from "../errors.ts";

/**
 * Objects that carry an expiry in their user metadata (`expires-at`, an ISO 8601 instant, written
 * by the temp store or by anyone through `x-meta-expires-at`) are refused by every read of the core
 * from that instant on, in any bucket: the lifecycle rule and the temp sweep remove them later
 * (hours later for the rule), and a read must not depend on when that happens.
 */

export const EXPIRES_AT = "expires-at";

/** The instant in `expires-at`, or undefined when the metadata has none. */
export function expiryOf(metadata: Readonly<Record<string, string>>): Date | undefined {
  const text = metadata[EXPIRES_AT];
  if (text === undefined) return undefined;
  const at = new Date(text);
  return Number.isNaN(at.getTime()) ? undefined : at;
}

/**
 * Uploads may set `expires-at` only to a valid instant: an unparsable one would be ignored by
 * reads, and the object would live on although its writer asked for it to expire.
 */
export function checkExpiryMetadata(metadata: Readonly<Record<string, string>>): void {
  const text = metadata[EXPIRES_AT];
  if (text === undefined) return;
  if (!/^\d{4}-\d{2}-\d{2}T/.test(text) || expiryOf(metadata) === undefined) {
    throw new StorageError(
      "INVALID_ARGUMENT",
      `Metadata '${EXPIRES_AT}' must be an ISO 8601 instant such as 2030-01-31T12:00:00Z.`,
      { field: "metadata" },
    );
  }
}

/** NOT_FOUND for an object whose expiry has passed; the message says so, and when. */
export function refuseExpired(
  object: { bucket: string; key: string; metadata: Readonly<Record<string, string>> },
  now = Date.now(),
): void {
  const at = expiryOf(object.metadata);
  if (at === undefined || at.getTime() > now) return;
  throw new StorageError(
    "NOT_FOUND",
    `Object '${object.key}' in bucket '${object.bucket}' expired at ${at.toISOString()}.`,
    { bucket: object.bucket, key: object.key, expired: at.toISOString() },
  );
}

/** Seconds until the expiry (at least 1), or undefined for an object without one. */
export function secondsLeft(
  metadata: Readonly<Record<string, string>>,
  now = Date.now(),
): number | undefined {
  const at = expiryOf(metadata);
  return at === undefined ? undefined : Math.max(1, Math.ceil((at.getTime() - now) / 1000));
}
