import { randomBytes, type ScryptOptions, scrypt, timingSafeEqual } from "node:crypto";

/**
 * The slow hash for API key secrets: scrypt with a per-key random salt, stored with its parameters
 * (`scrypt$N$r$p$salt$hash`, base64url) so they can be raised later without invalidating old keys.
 * Verification re-derives with the stored parameters and compares in constant time. Callers cache
 * successful verifications (authenticator.ts), so the cost is paid once per key, not per request.
 */

export interface ScryptParams {
  N: number;
  r: number;
  p: number;
}

/**
 * scrypt's classic interactive parameters: 16 MiB and tens of ms per hash. Secrets are 256 random
 * bits, so the slow hash is defence in depth for a leaked table, not the only barrier to guessing.
 */
export const DEFAULT_SCRYPT: ScryptParams = { N: 2 ** 14, r: 8, p: 1 };
const KEY_LENGTH = 32;
const SALT_BYTES = 16;
/** Bounds for parameters read back from the database, so a corrupt row cannot exhaust memory. */
const MAX_N = 2 ** 20;

function derive(secret: string, salt: Buffer, params: ScryptParams): Promise<Buffer> {
  const options: ScryptOptions = {
    N: params.N,
    r: params.r,
    p: params.p,
    // Node's default ceiling (32 MiB) is too tight for N=2^15 and above: allow what the parameters need.
    maxmem: 256 * params.N * params.r + 1024 * 1024,
  };
  return new Promise((resolve, reject) => {
    scrypt(secret, salt, KEY_LENGTH, options, (err, key) => (err ? reject(err) : resolve(key)));
  });
}

export async function hashSecret(secret: string, params: ScryptParams = DEFAULT_SCRYPT): Promise<string> {
  const salt = randomBytes(SALT_BYTES);
  const hash = await derive(secret, salt, params);
  return [
    "scrypt",
    params.N,
    params.r,
    params.p,
    salt.toString("base64url"),
    hash.toString("base64url"),
  ].join("$");
}

/**
 * A stored value in the same format and with the same parameters as a real hash, whose hash part
 * is random bytes no secret derives to. Verifying against it costs exactly what verifying against
 * a real key costs, and always fails: the key store runs it for unknown ids, so the time of an
 * answer does not tell which ids exist.
 */
export function decoyHash(params: ScryptParams = DEFAULT_SCRYPT): string {
  return [
    "scrypt",
    params.N,
    params.r,
    params.p,
    randomBytes(SALT_BYTES).toString("base64url"),
    randomBytes(KEY_LENGTH).toString("base64url"),
  ].join("$");
}

function parseStored(stored: string): { params: ScryptParams; salt: Buffer; hash: Buffer } | undefined {
  const [scheme, n, r, p, salt, hash, extra] = stored.split("$");
  if (scheme !== "scrypt" || !salt || !hash || extra !== undefined) return undefined;
  const params = { N: Number(n), r: Number(r), p: Number(p) };
  const ok =
    Number.isInteger(params.N) &&
    params.N > 1 &&
    params.N <= MAX_N &&
    (params.N & (params.N - 1)) === 0 &&
    Number.isInteger(params.r) &&
    params.r >= 1 &&
    params.r <= 32 &&
    Number.isInteger(params.p) &&
    params.p >= 1 &&
    params.p <= 16;
  if (!ok) return undefined;
  return { params, salt: Buffer.from(salt, "base64url"), hash: Buffer.from(hash, "base64url") };
}

/** True when `secret` hashes to `stored`. False (never a throw) for a malformed stored value. */
export async function verifySecret(secret: string, stored: string): Promise<boolean> {
  const parsed = parseStored(stored);
  if (!parsed || parsed.hash.length !== KEY_LENGTH) return false;
  const candidate = await derive(secret, parsed.salt, parsed.params);
  return timingSafeEqual(candidate, parsed.hash);
}
