import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { StorageError } from "../errors.ts";
import { type Database, openDatabase } from "../metadata/database.ts";
import { KeyStore } from "./api-keys.ts";
import { Authenticator, OPEN_PRINCIPAL } from "./authenticator.ts";
import { parseScope } from "./scopes.ts";

const FAST = { N: 1024, r: 8, p: 1 };

async function errorOf(run: () => Promise<unknown>): Promise<StorageError | undefined> {
  try {
    await run();
  } catch (err) {
    if (err instanceof StorageError) return err;
    throw err;
  }
  return undefined;
}

describe("Authenticator", () => {
  let db: Database;
  let keys: KeyStore;

  beforeAll(async () => {
    db = await openDatabase({ url: undefined, pgliteDir: "memory://" });
    keys = new KeyStore(db, { scrypt: FAST });
  });
  afterAll(async () => {
    await db.destroy();
  });

  const make = (options: { now?: () => number; points?: number; keyIdPoints?: number } = {}) =>
    new Authenticator({
      keys,
      disabled: false,
      cacheTtlSeconds: 30,
      failures: { points: options.points ?? 20, windowSeconds: 60 },
      keyIdFailures: { points: options.keyIdPoints ?? 20, windowSeconds: 60 },
      ...(options.now ? { now: options.now } : {}),
    });

  it("turns a bearer token into the key's principal, and caches the verification", async () => {
    const issued = await keys.create({ service: "svc-a", scopes: [parseScope("temp:read")], rateLimit: 50 });
    const auth = make();
    const verify = vi.spyOn(keys, "verify");
    const header = `Bearer ${issued.token.reveal()}`;
    const principal = await auth.authenticate(header, "10.0.0.1");
    expect(principal).toEqual({
      keyId: issued.key.id,
      service: "svc-a",
      scopes: [{ bucket: "temp", prefix: "", actions: ["read"] }],
      rateLimit: 50,
    });
    await Promise.all([1, 2, 3].map(() => auth.authenticate(header, "10.0.0.1")));
    expect(verify).toHaveBeenCalledTimes(1);
    verify.mockRestore();
  });

  it("shares one verification between concurrent first requests", async () => {
    const issued = await keys.create({ service: "svc-b", scopes: [parseScope("temp:read")] });
    const auth = make();
    const verify = vi.spyOn(keys, "verify");
    const header = `Bearer ${issued.token.reveal()}`;
    await Promise.all([1, 2, 3, 4].map(() => auth.authenticate(header, "10.0.0.2")));
    expect(verify).toHaveBeenCalledTimes(1);
    verify.mockRestore();
  });

  it("re-verifies after the TTL", async () => {
    let now = 1_000_000;
    const issued = await keys.create({ service: "svc-c", scopes: [parseScope("temp:read")] });
    const auth = make({ now: () => now });
    const verify = vi.spyOn(keys, "verify");
    const header = `Bearer ${issued.token.reveal()}`;
    await auth.authenticate(header, "a");
    now += 29_000;
    await auth.authenticate(header, "a");
    now += 2_000;
    await auth.authenticate(header, "a");
    expect(verify).toHaveBeenCalledTimes(2);
    verify.mockRestore();
  });

  it("forgets a revoked key at once, and a rotated key's old secret", async () => {
    const auth = make();
    const a = await keys.create({ service: "svc-d", scopes: [parseScope("temp:read")] });
    await auth.authenticate(`Bearer ${a.token.reveal()}`, "b");
    await keys.revoke(a.key.id);
    expect((await errorOf(() => auth.authenticate(`Bearer ${a.token.reveal()}`, "b")))?.code).toBe(
      "UNAUTHENTICATED",
    );

    const b = await keys.create({ service: "svc-e", scopes: [parseScope("temp:read")] });
    await auth.authenticate(`Bearer ${b.token.reveal()}`, "b");
    const rotated = await keys.rotate(b.key.id);
    expect(rotated.key.id).toBe(b.key.id);
    expect((await errorOf(() => auth.authenticate(`Bearer ${b.token.reveal()}`, "b")))?.code).toBe(
      "UNAUTHENTICATED",
    );
    expect((await auth.authenticate(`Bearer ${rotated.token.reveal()}`, "b")).keyId).toBe(b.key.id);
  });

  it("answers missing and bad credentials with UNAUTHENTICATED, one message for every bad key", async () => {
    const auth = make();
    const live = await keys.create({ service: "svc-f", scopes: [parseScope("temp:read")] });
    const wrongSecret = `${live.token.reveal().slice(0, -3)}AAA`;
    const missing = await errorOf(() => auth.authenticate(undefined, "c"));
    expect(missing?.code).toBe("UNAUTHENTICATED");
    expect(missing?.message).toMatch(/Missing credentials/);
    const messages = new Set<string>();
    for (const header of [
      "Bearer nonsense",
      "Basic dXNlcjpwdw==",
      `Bearer lss_aaaaaaaaaaaaaaaa_${"a".repeat(43)}`,
      `Bearer ${wrongSecret}`,
      live.token.reveal(), // no scheme
    ]) {
      const error = await errorOf(() => auth.authenticate(header, "c"));
      expect(error?.code, header).toBe("UNAUTHENTICATED");
      messages.add(error?.message ?? "");
      expect(JSON.stringify(error?.details)).not.toContain(live.token.reveal().slice(21));
    }
    expect([...messages]).toEqual(["The API key is not valid."]);
  });

  it("refuses an address after too many failures, before hashing anything", async () => {
    const auth = make({ points: 3 });
    const live = await keys.create({ service: "svc-g", scopes: [parseScope("temp:read")] });
    const bad = `Bearer lss_aaaaaaaaaaaaaaaa_${"b".repeat(43)}`;
    for (let i = 0; i < 3; i++)
      expect((await errorOf(() => auth.authenticate(bad, "6.6.6.6")))?.code).toBe("UNAUTHENTICATED");
    const limited = await errorOf(() => auth.authenticate(bad, "6.6.6.6"));
    expect(limited?.code).toBe("RATE_LIMITED");
    expect(limited?.details.retryAfterSeconds).toBeGreaterThan(0);
    const verify = vi.spyOn(keys, "verify");
    // Even the right key waits: the address is blocked, not the key.
    expect((await errorOf(() => auth.authenticate(`Bearer ${live.token.reveal()}`, "6.6.6.6")))?.code).toBe(
      "RATE_LIMITED",
    );
    expect(verify).not.toHaveBeenCalled();
    verify.mockRestore();
    expect((await auth.authenticate(`Bearer ${live.token.reveal()}`, "7.7.7.7")).service).toBe("svc-g");
  });

  it("limits failures per presented key id across addresses, refusing even the right secret", async () => {
    const auth = make({ points: 100, keyIdPoints: 3 });
    const live = await keys.create({ service: "svc-h", scopes: [parseScope("temp:read")] });
    const other = await keys.create({ service: "svc-i", scopes: [parseScope("temp:read")] });
    const right = `Bearer ${live.token.reveal()}`;
    const wrong = (n: number) => `Bearer ${live.token.reveal().slice(0, -3)}${String(n).padStart(3, "x")}`;
    for (let i = 0; i < 3; i++) {
      expect((await errorOf(() => auth.authenticate(wrong(i), `10.1.0.${i}`)))?.code).toBe("UNAUTHENTICATED");
    }
    const verify = vi.spyOn(keys, "verify");
    const limited = await errorOf(() => auth.authenticate(wrong(9), "10.1.0.9"));
    expect(limited?.code).toBe("RATE_LIMITED");
    expect(limited?.details.retryAfterSeconds).toBeGreaterThan(0);
    // The id is locked, not the addresses, and not other keys: a fresh address with the right
    // secret waits too (this instance never verified that token), without any hashing.
    expect((await errorOf(() => auth.authenticate(right, "10.1.0.10")))?.code).toBe("RATE_LIMITED");
    expect(verify).not.toHaveBeenCalled();
    verify.mockRestore();
    expect((await auth.authenticate(`Bearer ${other.token.reveal()}`, "10.1.0.0")).service).toBe("svc-i");
  });

  it("locks an unknown id exactly like a live one (the budget is no oracle for which ids exist)", async () => {
    const auth = make({ points: 100, keyIdPoints: 2 });
    const unknown = (n: number) => `Bearer lss_zzzzzzzzzzzzzzzz_${String(n).padStart(43, "q")}`;
    const codes: (string | undefined)[] = [];
    for (let i = 0; i < 3; i++)
      codes.push((await errorOf(() => auth.authenticate(unknown(i), `10.2.0.${i}`)))?.code);
    expect(codes).toEqual(["UNAUTHENTICATED", "UNAUTHENTICATED", "RATE_LIMITED"]);
  });

  it("charges the key id even when the address budget is the one that runs out", async () => {
    const auth = make({ points: 1, keyIdPoints: 3 });
    const live = await keys.create({ service: "svc-j", scopes: [parseScope("temp:read")] });
    const wrong = `Bearer ${live.token.reveal().slice(0, -3)}zzz`;
    // Three at once from one address: all pass the address check before any is charged, and the
    // address budget (1) runs out on the second. The id must still be charged all three times.
    const codes = await Promise.all([1, 2, 3].map(() => errorOf(() => auth.authenticate(wrong, "10.3.0.1"))));
    expect(codes.map((e) => e?.code).sort()).toEqual(["RATE_LIMITED", "RATE_LIMITED", "UNAUTHENTICATED"]);
    expect((await errorOf(() => auth.authenticate(`Bearer ${live.token.reveal()}`, "10.3.0.2")))?.code).toBe(
      "RATE_LIMITED",
    );
  });

  it("lets a token this instance verified before through its id's lock, re-verified", async () => {
    let now = 2_000_000;
    const auth = make({ now: () => now, points: 100, keyIdPoints: 2 });
    const live = await keys.create({ service: "svc-k", scopes: [parseScope("temp:read")] });
    const right = `Bearer ${live.token.reveal()}`;
    await auth.authenticate(right, "10.4.0.1");
    now += 31_000; // the cache entry has expired: the next call must verify again
    const wrong = `Bearer ${live.token.reveal().slice(0, -3)}zzz`;
    for (const address of ["10.4.0.2", "10.4.0.3"]) await errorOf(() => auth.authenticate(wrong, address));
    expect((await errorOf(() => auth.authenticate(wrong, "10.4.0.4")))?.code).toBe("RATE_LIMITED");
    const verify = vi.spyOn(keys, "verify");
    expect((await auth.authenticate(right, "10.4.0.1")).service).toBe("svc-k");
    expect(verify).toHaveBeenCalledTimes(1);
    verify.mockRestore();
    // Proof is per instance and per token: once the key is rotated, the old token is refused.
    await keys.rotate(live.key.id);
    now += 31_000;
    expect((await errorOf(() => auth.authenticate(right, "10.4.0.1")))?.code).toBe("RATE_LIMITED");
  });

  it("lets everyone in with full rights only when disabled", async () => {
    const open = new Authenticator({ keys, disabled: true, cacheTtlSeconds: 30 });
    expect(await open.authenticate(undefined, "x")).toBe(OPEN_PRINCIPAL);
    expect(OPEN_PRINCIPAL.authDisabled).toBe(true);
  });
});
