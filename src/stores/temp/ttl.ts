import { StorageError } from "../../errors.ts";

export interface TtlLimits {
  defaultTtlSeconds: number;
  maxTtlSeconds: number;
}

/**
 * The expiry instant of an upload: `ttlSeconds` from now or `expiresAt`, never both; neither is
 * the default TTL. Anything past the maximum is refused rather than cut short, so the caller is
 * never surprised by an object vanishing before the time it asked for.
 */
export function resolveExpiry(
  req: { ttlSeconds?: number | undefined; expiresAt?: Date | undefined },
  limits: TtlLimits,
  now = Date.now(),
): Date {
  const { maxTtlSeconds } = limits;
  if (req.ttlSeconds !== undefined && req.expiresAt !== undefined) {
    throw new StorageError("INVALID_ARGUMENT", "Give either a ttl or an expiry instant, not both.", {
      field: "ttl",
    });
  }
  if (req.expiresAt !== undefined) {
    const at = req.expiresAt.getTime();
    if (Number.isNaN(at) || at <= now || at > now + maxTtlSeconds * 1000) {
      throw new StorageError(
        "INVALID_ARGUMENT",
        `The expiry must be a future instant at most ${maxTtlSeconds} seconds away (TEMP_MAX_TTL).`,
        { field: "expiresAt", limit: maxTtlSeconds },
      );
    }
    return new Date(at);
  }
  const ttl = req.ttlSeconds ?? limits.defaultTtlSeconds;
  if (!Number.isSafeInteger(ttl) || ttl < 1 || ttl > maxTtlSeconds) {
    throw new StorageError(
      "INVALID_ARGUMENT",
      `The ttl must be a whole number of seconds from 1 to ${maxTtlSeconds} (TEMP_MAX_TTL).`,
      { field: "ttl", limit: maxTtlSeconds },
    );
  }
  return new Date(now + ttl * 1000);
}
