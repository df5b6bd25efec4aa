import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startPostgres, stopPostgres } from "../scripts/stack-lib.ts";
import { sha256Of, uploadableBytes } from "./support/data.ts";
import { createKey, fetchWithKey, type HttpHarness, startHttp } from "./support/http.ts";

const KEYS = 50;
const BUDGET = 6;

/**
 * Two service instances behind one MinIO and one PostgreSQL, as two replicas behind a load
 * balancer: concurrent writers to the same keys, one per instance, must leave each key's latest
 * index row equal to the store's current object; and a rate-limit budget is one per deployment,
 * not one per instance. Needs a PostgreSQL server: DATABASE_URL, else one of its own
 * (scripts/start-postgres.sh, as `npm run stack` starts it).
 */
describe("two instances on one MinIO and one PostgreSQL", () => {
  let a: HttpHarness;
  let b: HttpHarness;
  let ownPostgres: string | undefined;
  let writer: string;

  beforeAll(async () => {
    let databaseUrl = process.env.DATABASE_URL;
    if (!databaseUrl) {
      const pg = await startPostgres();
      ownPostgres = pg.dir;
      databaseUrl = pg.url;
    }
    // Same config for both, as replicas of one Deployment: one bucket prefix, one database.
    const env = { DATABASE_URL: databaseUrl, RATE_LIMIT_REQUESTS: String(BUDGET) };
    a = await startHttp("minio", env);
    b = await startHttp("minio", env);
    // The writers' key carries a budget of its own, far above the deployment's default.
    writer = await createKey(a.app, "writer", ["*:read,write,list"], 1_000_000);
  });
  afterAll(async () => {
    await a?.close();
    await b?.close();
    if (ownPostgres) await stopPostgres(ownPostgres);
  });

  it.each([
    ["versioned", "modelArtifacts"],
    ["unversioned", "temp"],
  ] as const)(
    `%s bucket: ${KEYS} keys × 2 writers, one per instance, end consistent`,
    async (_kind, name) => {
      const bucket = a.app.config.buckets[name];
      const keys = Array.from({ length: KEYS }, (_, i) => `race/${String(i).padStart(2, "0")}.bin`);
      const put = async (h: HttpHarness, key: string) => {
        // Different lengths per instance, so the uploads finish in no fixed order.
        const body = uploadableBytes(h === a ? 1000 + key.length : 3000 + key.length * 7);
        const res = await fetchWithKey(writer)(h.objectUrl(bucket, key), { method: "PUT", body });
        expect(res.status, await res.clone().text()).toBe(201);
      };
      await Promise.all(keys.flatMap((key) => [put(a, key), put(b, key)]));

      const rows = await a.app.db
        .selectFrom("object_versions")
        .select(["key", "version_id", "etag", "sha256"])
        .where("bucket", "=", bucket)
        .where("key", "like", "race/%")
        .where("is_latest", "=", true)
        .execute();
      expect(rows.length).toBe(KEYS);
      const mismatched: string[] = [];
      for (const key of keys) {
        const head = await a.app.store.head(bucket, key);
        // The bytes the store serves as current, hashed here (not the service's own checksum).
        const res = await fetchWithKey(writer)(b.objectUrl(bucket, key));
        const served = sha256Of(Buffer.from(await res.arrayBuffer()));
        const row = rows.find((r) => r.key === key);
        if (row?.version_id !== head.versionId || row.etag !== head.etag || row.sha256 !== served) {
          mismatched.push(key);
        }
      }
      expect(mismatched).toEqual([]);
    },
  );

  it(`shares one budget of RATE_LIMIT_REQUESTS=${BUDGET} per key between the instances`, async () => {
    const token = await createKey(a.app, "budgeted", ["*:list"]);
    const list = (h: HttpHarness) =>
      fetchWithKey(token)(`${h.base}/v1/buckets/${h.app.config.buckets.temp}/objects?prefix=none/`);
    // Spread over both: each instance alone sees only half the budget spent.
    for (let i = 0; i < BUDGET; i++) expect((await list(i % 2 === 0 ? a : b)).status).toBe(200);
    for (const h of [a, b]) {
      const refused = await list(h);
      expect(refused.status).toBe(429);
      expect(Number(refused.headers.get("retry-after"))).toBeGreaterThan(0);
    }
    // Another key's budget is its own.
    const other = await createKey(b.app, "other", ["*:list"]);
    expect(
      (await fetchWithKey(other)(`${a.base}/v1/buckets/${a.app.config.buckets.temp}/objects?prefix=none/`))
        .status,
    ).toBe(200);
  });
});
