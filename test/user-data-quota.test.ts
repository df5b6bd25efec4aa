import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startPostgres, stopPostgres } from "../scripts/stack-lib.ts";
import { fetchWithKey, type HttpHarness, jsonPost, startHttp } from "./support/http.ts";

const FILE = 1000;
const QUOTA_FILES = 7;
const ATTEMPTS = 24;

/**
 * One user's quota across two service instances on one MinIO and one PostgreSQL (replicas behind a
 * load balancer): concurrent uploads that together exceed the quota, spread over both instances,
 * never store more than the quota, because reservations are taken under the user's row lock in
 * the shared database. Needs a PostgreSQL server: DATABASE_URL, else one of its own.
 */
describe("user-data quota across two instances", () => {
  let a: HttpHarness;
  let b: HttpHarness;
  let ownPostgres: string | undefined;

  beforeAll(async () => {
    let databaseUrl = process.env.DATABASE_URL;
    if (!databaseUrl) {
      const pg = await startPostgres();
      ownPostgres = pg.dir;
      databaseUrl = pg.url;
    }
    const env = { DATABASE_URL: databaseUrl, USER_DATA_QUOTA_BYTES: String(QUOTA_FILES * FILE) };
    a = await startHttp("minio", env);
    b = await startHttp("minio", env);
  });
  afterAll(async () => {
    await a?.close();
    await b?.close();
    if (ownPostgres) await stopPostgres(ownPostgres);
  });

  it(`${ATTEMPTS} concurrent uploads of ${FILE} bytes against a ${QUOTA_FILES * FILE}-byte quota`, async () => {
    const userId = `racer-${Date.now().toString(36)}`;
    const put = async (i: number) => {
      const h = i % 2 === 0 ? a : b;
      const res = await fetchWithKey(h.token)(`${h.base}/v1/users/${userId}/files/f${i}.txt`, {
        method: "POST",
        body: Buffer.alloc(FILE, "q"),
      });
      return res.status;
    };
    const statuses = await Promise.all(Array.from({ length: ATTEMPTS }, (_, i) => put(i)));
    // Every upload is either stored or refused for the quota; nothing fails otherwise.
    expect(statuses.filter((s) => s !== 201 && s !== 413)).toEqual([]);
    expect(statuses.filter((s) => s === 201)).toHaveLength(QUOTA_FILES);

    const bucket = a.app.config.buckets.userData;
    const stored = (await a.app.store.list(bucket, { prefix: `users/${userId}/` })).objects;
    expect(stored.reduce((sum, o) => sum + o.size, 0)).toBe(QUOTA_FILES * FILE);

    // Both instances read the same usage, and it matches what the store holds.
    for (const h of [a, b]) {
      const usage = (await (await h.fetch(`${h.base}/v1/users/${userId}/usage`)).json()) as Record<
        string,
        number
      >;
      expect(usage).toMatchObject({ bytes: QUOTA_FILES * FILE, objects: QUOTA_FILES, reservedBytes: 0 });
    }

    // A per-user override set through one instance holds on the other at once.
    const raised = await b.fetch(`${b.base}/v1/users/${userId}/quota`, {
      ...jsonPost({ bytes: (QUOTA_FILES + 1) * FILE }),
      method: "PUT",
    });
    expect(raised.status).toBe(200);
    expect(await put(0)).toBe(201);
    expect(await put(1)).toBe(413);
  });
});
