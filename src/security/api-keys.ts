import { sql } from "kysely";
import { Secret } from "../config/secret.ts";
import { StorageError } from "../errors.ts";
import type { Database } from "../metadata/database.ts";
import { guardDb } from "../metadata/guard.ts";
import { DEFAULT_SCRYPT, decoyHash, hashSecret, type ScryptParams, verifySecret } from "./hashing.ts";
import { type SecurityDatabase, securityDb } from "./schema.ts";
import { FULL_ACCESS, normaliseScope, type Scope } from "./scopes.ts";
import {
  formatToken,
  generateKeyId,
  generateSecret,
  isKeyId,
  type ParsedToken,
  parseToken,
} from "./tokens.ts";

/**
 * API keys in the metadata database. A key's secret exists in clear only in the value `create` and
 * `rotate` return (a Secret, printed as [redacted] unless revealed on purpose); the table holds a
 * scrypt hash. Keys are revoked, never deleted, so audit records keep pointing at a real row.
 */

export interface ApiKeyInfo {
  id: string;
  service: string;
  scopes: Scope[];
  /** Requests per rate-limit window; null uses RATE_LIMIT_REQUESTS. */
  rateLimit: number | null;
  createdAt: Date;
  rotatedAt: Date | null;
  revokedAt: Date | null;
}

export interface IssuedKey {
  key: ApiKeyInfo;
  /** `lss_<id>_<secret>`: shown once, to whoever created or rotated the key. */
  token: Secret;
}

export interface NewKey {
  service: string;
  scopes: Scope[];
  rateLimit?: number;
}

type Row = {
  id: string;
  service: string;
  secret_hash: string;
  scopes: unknown;
  rate_limit: number | null;
  created_at: Date;
  rotated_at: Date | null;
  revoked_at: Date | null;
};

const toInfo = (r: Row): ApiKeyInfo => ({
  id: r.id,
  service: r.service,
  scopes: (typeof r.scopes === "string" ? JSON.parse(r.scopes) : r.scopes) as Scope[],
  rateLimit: r.rate_limit,
  createdAt: new Date(r.created_at),
  rotatedAt: r.rotated_at ? new Date(r.rotated_at) : null,
  revokedAt: r.revoked_at ? new Date(r.revoked_at) : null,
});

const SERVICE_NAME = /^[a-z0-9][a-z0-9._-]{0,62}$/;
/** The service name of the key created on first start. */
export const BOOTSTRAP_ADMIN_SERVICE = "admin";
/** The largest per-key rate limit the CLI and the admin APIs accept (requests per window). */
export const MAX_KEY_RATE_LIMIT = 10_000_000;

export class KeyStore {
  readonly #db: SecurityDatabase;
  readonly #params: ScryptParams;
  /** Verified against when a token names no live key, so that answer takes as long as a wrong secret. */
  readonly #decoy: string;
  readonly #listeners = new Set<(keyId: string) => void>();

  constructor(db: Database, options: { scrypt?: ScryptParams } = {}) {
    this.#db = securityDb(db);
    this.#params = options.scrypt ?? DEFAULT_SCRYPT;
    this.#decoy = decoyHash(this.#params);
  }

  /** Called with a key id whenever that key's secret stops being valid (revoke, rotate). */
  onInvalidate(listener: (keyId: string) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  async create(input: NewKey): Promise<IssuedKey> {
    const { service, scopes, rateLimit } = validateNewKey(input);
    const id = generateKeyId();
    const secret = generateSecret();
    const secretHash = await hashSecret(secret, this.#params);
    const row = await this.#guard(() =>
      this.#db
        .insertInto("api_keys")
        .values({
          id,
          service,
          secret_hash: secretHash,
          scopes: JSON.stringify(scopes),
          rate_limit: rateLimit ?? null,
        })
        .returningAll()
        .executeTakeFirstOrThrow(),
    );
    return { key: toInfo(row as Row), token: new Secret(formatToken(id, secret)) };
  }

  async get(id: string): Promise<ApiKeyInfo | undefined> {
    if (!isKeyId(id)) return undefined;
    const row = await this.#guard(() =>
      this.#db.selectFrom("api_keys").selectAll().where("id", "=", id).executeTakeFirst(),
    );
    return row ? toInfo(row as Row) : undefined;
  }

  async list(options: { includeRevoked?: boolean } = {}): Promise<ApiKeyInfo[]> {
    const rows = await this.#guard(() => {
      let q = this.#db.selectFrom("api_keys").selectAll().orderBy("created_at").orderBy("id");
      if (!options.includeRevoked) q = q.where("revoked_at", "is", null);
      return q.execute();
    });
    return rows.map((r) => toInfo(r as Row));
  }

  /** Revokes a key at once (idempotent: revoking a revoked key returns it unchanged). */
  async revoke(id: string): Promise<ApiKeyInfo> {
    const row = await this.#guard(() =>
      this.#db
        .updateTable("api_keys")
        .set({ revoked_at: sql<Date>`coalesce(revoked_at, now())` })
        .where("id", "=", id)
        .returningAll()
        .executeTakeFirst(),
    );
    if (!row) throw notFound(id);
    this.#emit(id);
    return toInfo(row as Row);
  }

  /** A new secret for the same key id (scopes and audit history carry over); the old one stops working. */
  async rotate(id: string): Promise<IssuedKey> {
    const current = await this.get(id);
    if (!current) throw notFound(id);
    if (current.revokedAt) {
      throw new StorageError("PRECONDITION_FAILED", `API key ${id} is revoked and cannot be rotated.`, {
        field: "id",
      });
    }
    const secret = generateSecret();
    const secretHash = await hashSecret(secret, this.#params);
    const row = await this.#guard(() =>
      this.#db
        .updateTable("api_keys")
        .set({ secret_hash: secretHash, rotated_at: sql<Date>`now()` })
        .where("id", "=", id)
        .where("revoked_at", "is", null)
        .returningAll()
        .executeTakeFirst(),
    );
    if (!row) throw notFound(id);
    this.#emit(id);
    return { key: toInfo(row as Row), token: new Secret(formatToken(id, secret)) };
  }

  /** The key a token belongs to, when the token is well formed, its key live and its secret right. */
  async verify(token: string): Promise<ApiKeyInfo | undefined> {
    const parsed = parseToken(token);
    if (!parsed) return undefined;
    const row = await this.#guard(() =>
      this.#db
        .selectFrom("api_keys")
        .selectAll()
        .where("id", "=", parsed.id)
        .where("revoked_at", "is", null)
        .executeTakeFirst(),
    );
    // An unknown, revoked or absent id pays the same scrypt work as a wrong secret (against a decoy
    // that never matches): a faster "no" would tell a prober which ids are live, and so which ids
    // are worth guessing secrets for and which revoked ones came back.
    const ok = await verifySecret(parsed.secret, row?.secret_hash ?? this.#decoy);
    return ok && row ? toInfo(row as Row) : undefined;
  }

  /**
   * On a database that has never held a key, creates one admin key and returns it (to be printed
   * once); otherwise undefined. Revoking every key does not bring this back: an operator who locked
   * everyone out creates a key with the CLI. Concurrent first starts create exactly one.
   *
   * `deliver` hands the token over (e.g. writes the key file) before the row is committed: if it
   * throws, no key is created and its error is rethrown as it is, so a key nobody received never
   * exists and the next start tries again.
   *
   * `adopt` supplies the operator's own token (id and secret) instead: it is called only when no key
   * ever existed, its errors are rethrown as they are, and the key gets exactly that id and secret
   * (hashed as always), so nothing secret is generated and nothing needs delivering.
   */
  async ensureBootstrapAdmin(
    deliver?: (issued: IssuedKey) => Promise<void>,
    adopt?: () => Promise<ParsedToken>,
  ): Promise<IssuedKey | undefined> {
    const anyKey = () => this.#db.selectFrom("api_keys").select("id").limit(1).executeTakeFirst();
    // The usual case (keys exist) costs one cheap query, not a scrypt hash.
    if (await this.#guard(anyKey)) return undefined;
    const { id, secret } = adopt ? await adopt() : { id: generateKeyId(), secret: generateSecret() };
    const secretHash = await hashSecret(secret, this.#params);
    let undelivered: { error: unknown } | undefined;
    return this.#guard(() =>
      this.#db.transaction().execute(async (tx) => {
        await sql`lock table api_keys in share row exclusive mode`.execute(tx);
        const existing = await tx.selectFrom("api_keys").select("id").limit(1).executeTakeFirst();
        if (existing) return undefined;
        const row = await tx
          .insertInto("api_keys")
          .values({
            id,
            service: BOOTSTRAP_ADMIN_SERVICE,
            secret_hash: secretHash,
            scopes: JSON.stringify(FULL_ACCESS),
            rate_limit: null,
          })
          .returningAll()
          .executeTakeFirstOrThrow();
        const key: IssuedKey = { key: toInfo(row as Row), token: new Secret(formatToken(id, secret)) };
        try {
          await deliver?.(key);
        } catch (error) {
          undelivered = { error };
          throw error; // rolls the insert back
        }
        return key;
      }),
    ).catch((err: unknown) => {
      // The guard would report a delivery failure as a database outage; it is not one.
      throw undelivered ? undelivered.error : err;
    });
  }

  #emit(id: string): void {
    for (const listener of this.#listeners) listener(id);
  }

  #guard<T>(work: () => Promise<T>): Promise<T> {
    return guardDb(work, "The key store could not complete the request.");
  }
}

const notFound = (id: string) => new StorageError("NOT_FOUND", `No API key with id ${id}.`, { field: "id" });

function validateNewKey(input: NewKey): NewKey {
  if (!SERVICE_NAME.test(input.service)) {
    throw new StorageError(
      "INVALID_ARGUMENT",
      "The service name must be 1-63 characters of a-z, 0-9, '.', '_', '-', starting with a letter or digit.",
      { field: "service" },
    );
  }
  if (input.scopes.length === 0) {
    throw new StorageError("INVALID_ARGUMENT", "A key needs at least one scope.", { field: "scope" });
  }
  if (input.rateLimit !== undefined && (!Number.isSafeInteger(input.rateLimit) || input.rateLimit < 1)) {
    throw new StorageError(
      "INVALID_ARGUMENT",
      "The rate limit must be a whole number of requests of at least 1.",
      {
        field: "rateLimit",
      },
    );
  }
  return { ...input, scopes: input.scopes.map(normaliseScope) };
}
