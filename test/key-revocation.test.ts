import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { OwnDatabase } from "./support/database.ts";
import { bearer, expectProblem, type HttpHarness, json, jsonPost, startHttp } from "./support/http.ts";
import { sharedPostgres } from "./support/postgres.ts";

/**
 * Two service instances on one PostgreSQL, as a scaled-out deployment runs: each caches verified
 * keys for AUTH_KEY_CACHE_TTL, so a key revoked or rotated through one instance is refused there at
 * once and by the other as soon as its cache entry runs out and it asks the database again.
 */

const TTL_SECONDS = 2;
const POLL_MS = 100;
// Only a guard against hanging for ever: the bound under test is the TTL, and a loaded machine may
// add to it, so the other instance is given this long past the TTL before the test gives up.
const HANG_GUARD_MS = TTL_SECONDS * 1000 + 30_000;

interface Issued {
  key: { id: string; revokedAt: string | null };
  token: string;
}

let database: OwnDatabase;
let a: HttpHarness;
let b: HttpHarness;
let bucket: string;

beforeAll(async () => {
  database = await sharedPostgres("key_revocation");
  const env = { ...database.env, AUTH_KEY_CACHE_TTL: `${TTL_SECONDS}s` };
  a = await startHttp("minio", env);
  b = await startHttp("minio", env);
  bucket = a.app.config.buckets.temp;
});

afterAll(async () => {
  await a?.close();
  await b?.close();
  await database?.drop();
});

/** An authenticated request only a live key passes: list the bucket the probe key may list. */
const list = (h: HttpHarness, token: string) =>
  fetch(`${h.base}/v1/buckets/${bucket}/objects`, { headers: bearer(token) });

async function status(h: HttpHarness, token: string): Promise<number> {
  const res = await list(h, token);
  await res.body?.cancel();
  return res.status;
}

/** A key that may list the probe bucket, created through instance A's admin API. */
async function probeKey(service: string): Promise<Issued> {
  const res = await a.fetch(
    `${a.base}/v1/admin/keys`,
    jsonPost({ service, scopes: [`${bucket}:read,list`] }),
  );
  expect(res.status).toBe(201);
  return json<Issued>(res);
}

/**
 * Sends `token` to `h` every POLL_MS until it is refused; every answer before that must be a
 * success (the cached verification). Returns the milliseconds from `since` to the first refusal.
 */
async function firstRefusal(h: HttpHarness, token: string, since: number): Promise<number> {
  for (;;) {
    const res = await list(h, token);
    if (res.status === 401) {
      await expectProblem(res, 401, "UNAUTHENTICATED");
      return performance.now() - since;
    }
    await res.body?.cancel();
    expect(res.status).toBe(200);
    if (performance.now() - since > HANG_GUARD_MS) {
      throw new Error(
        `still accepted ${HANG_GUARD_MS} ms after the change (AUTH_KEY_CACHE_TTL=${TTL_SECONDS}s)`,
      );
    }
    await sleep(POLL_MS);
  }
}

describe(`two instances on one PostgreSQL, AUTH_KEY_CACHE_TTL=${TTL_SECONDS}s`, () => {
  it("a revoke through A: A refuses the key at once, B once its cached verification runs out", async () => {
    const probe = await probeKey("revocation-probe");
    // Both accept it (B has never seen it: it reads the key A created) and now hold it cached.
    expect(await status(a, probe.token)).toBe(200);
    expect(await status(b, probe.token)).toBe(200);

    const revokedAt = performance.now();
    const revoke = await a.fetch(`${a.base}/v1/admin/keys/${probe.key.id}`, { method: "DELETE" });
    expect(revoke.status).toBe(200);
    expect((await json<Issued>(revoke)).key.revokedAt).not.toBeNull();

    await expectProblem(await list(a, probe.token), 401, "UNAUTHENTICATED");
    expect(await firstRefusal(b, probe.token, revokedAt)).toBeGreaterThanOrEqual(0);
    // For good: B asked the database, so the refusal does not depend on the cache any more.
    await expectProblem(await list(b, probe.token), 401, "UNAUTHENTICATED");
  });

  it("a rotation through A: the new token works on both at once, the old one goes like a revoked key", async () => {
    const probe = await probeKey("rotation-probe");
    expect(await status(a, probe.token)).toBe(200);
    expect(await status(b, probe.token)).toBe(200);

    const rotatedAt = performance.now();
    const rotate = await a.fetch(`${a.base}/v1/admin/keys/${probe.key.id}/rotate`, { method: "POST" });
    expect(rotate.status).toBe(200);
    const rotated = await json<Issued>(rotate);
    expect(rotated.key.id).toBe(probe.key.id);
    expect(rotated.token).not.toBe(probe.token);

    await expectProblem(await list(a, probe.token), 401, "UNAUTHENTICATED");
    expect(await status(a, rotated.token)).toBe(200);
    expect(await status(b, rotated.token)).toBe(200);
    expect(await firstRefusal(b, probe.token, rotatedAt)).toBeGreaterThanOrEqual(0);
    expect(await status(b, rotated.token)).toBe(200);
  });
});
