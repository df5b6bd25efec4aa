import * as crypto from "node:crypto";
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import { type Database, openDatabase } from "../metadata/database.ts";
import { KeyStore } from "./api-keys.ts";
import { decoyHash, verifySecret } from "./hashing.ts";
import { parseScope } from "./scopes.ts";
import { formatToken, generateKeyId, generateSecret } from "./tokens.ts";

// Every scrypt derivation is counted (and its parameters kept): the slow work itself, not a wrapper
// around it, is what must be the same for an unknown id and a wrong secret.
vi.mock("node:crypto", async (importOriginal) => {
  const actual = await importOriginal<typeof import("node:crypto")>();
  return { ...actual, scrypt: vi.fn(actual.scrypt) };
});
const scrypt = vi.mocked(crypto.scrypt);

const FAST = { N: 1024, r: 8, p: 1 };

/** The N, r, p of each scrypt call made so far. */
const derivations = () =>
  scrypt.mock.calls.map((call) => {
    const options = call[3] as unknown as crypto.ScryptOptions;
    return { N: options.N, r: options.r, p: options.p };
  });

describe("KeyStore.verify: no timing oracle for key ids", () => {
  let db: Database;
  let keys: KeyStore;

  beforeAll(async () => {
    db = await openDatabase({ url: undefined, pgliteDir: "memory://" });
    keys = new KeyStore(db, { scrypt: FAST });
  });
  afterAll(async () => {
    await db.destroy();
  });
  beforeEach(() => {
    scrypt.mockClear();
  });

  it("derives exactly one scrypt hash, with the keys' parameters, for a wrong secret, an unknown id and a revoked id", async () => {
    const live = await keys.create({ service: "timing-live", scopes: [parseScope("temp:read")] });
    const revoked = await keys.create({ service: "timing-revoked", scopes: [parseScope("temp:read")] });
    await keys.revoke(revoked.key.id);
    const cases = {
      wrongSecret: formatToken(live.key.id, generateSecret()),
      unknownId: formatToken(generateKeyId(), generateSecret()),
      revokedId: revoked.token.reveal(),
    };
    for (const [name, token] of Object.entries(cases)) {
      scrypt.mockClear();
      expect(await keys.verify(token), name).toBeUndefined();
      expect(derivations(), name).toEqual([FAST]);
    }
    // The right secret costs the same one derivation and is accepted.
    scrypt.mockClear();
    expect((await keys.verify(live.token.reveal()))?.id).toBe(live.key.id);
    expect(derivations()).toEqual([FAST]);
  });

  it("hashes nothing for a token that is not even well formed (it names no id to probe)", async () => {
    expect(await keys.verify("not-a-token")).toBeUndefined();
    expect(scrypt).not.toHaveBeenCalled();
  });
});

describe("decoyHash", () => {
  it("has the stored format and parameters of a real hash, and no secret matches it", async () => {
    const decoy = decoyHash(FAST);
    expect(decoy).toMatch(/^scrypt\$1024\$8\$1\$[A-Za-z0-9_-]{22}\$[A-Za-z0-9_-]{43}$/);
    scrypt.mockClear();
    expect(await verifySecret(generateSecret(), decoy)).toBe(false);
    expect(derivations()).toEqual([FAST]);
    expect(decoyHash(FAST)).not.toBe(decoy);
  });
});
