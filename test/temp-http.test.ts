import { Readable } from "node:stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { isStorageError } from "../src/errors.ts";
import { createTestApp } from "./support/app.ts";
import {
  bearer,
  expectProblem,
  type HttpHarness,
  json,
  jsonPost,
  keyPath,
  startHttp,
} from "./support/http.ts";
import { untilPassed } from "./support/temp.ts";

/**
 * Temp storage over HTTP on the shared MinIO: a 2 s object is served at once and refused after its
 * expiry by /v1/temp and by the generic object routes (GET, HEAD, presign, copy); bad TTLs store
 * nothing; the sweep deletes expired objects (store and index) and leaves live ones, and its dry
 * run deletes nothing.
 */

interface TempJson {
  object: { key: string; size: number; metadata: Record<string, string> };
  expiresAt: string;
}

interface SweepJson {
  bucket: string;
  dryRun: boolean;
  deleted: number;
  bytes: number;
  gone: number;
  renewed: number;
  failed: number;
}

let h: HttpHarness;
let bucket: string;
const tempUrl = (key: string, query = "") => `${h.base}/v1/temp/${keyPath(key)}${query}`;
const put = (key: string, body: string, query = "", headers: Record<string, string> = {}) =>
  h.fetch(tempUrl(key, query), {
    method: "PUT",
    body,
    headers: { "content-type": "text/plain", ...headers },
  });

/** Whether the store itself (not the service's read path) still holds the key. */
async function inStore(key: string): Promise<boolean> {
  try {
    await h.app.store.head(bucket, key);
    return true;
  } catch (err) {
    if (isStorageError(err) && err.code === "NOT_FOUND") return false;
    throw err;
  }
}

beforeAll(async () => {
  h = await startHttp("minio", { RATE_LIMIT_ENABLED: "false" });
  bucket = h.app.config.buckets.temp;
});
afterAll(async () => {
  await h?.close();
});

describe("temp objects over HTTP", () => {
  it("serves a 2 s object at once and refuses it after its expiry, on every read route", async () => {
    const res = await put("short/report.txt", "hello temp", "?ttl=2");
    expect(res.status).toBe(201);
    const stored = await json<TempJson>(res);
    expect(stored.object).toMatchObject({ key: "short/report.txt", size: 10 });
    expect(stored.object.metadata["expires-at"]).toBe(stored.expiresAt);
    expect(new Date(stored.expiresAt).getTime()).toBeGreaterThan(Date.now());

    const fresh = await h.fetch(tempUrl("short/report.txt"));
    expect(fresh.status).toBe(200);
    expect(fresh.headers.get("x-meta-expires-at")).toBe(stored.expiresAt);
    expect(await fresh.text()).toBe("hello temp");
    const generic = await h.fetch(h.objectUrl(bucket, "short/report.txt"));
    expect(generic.status).toBe(200);
    expect(await generic.text()).toBe("hello temp");

    await untilPassed(stored.expiresAt);

    const refused = await expectProblem(await h.fetch(tempUrl("short/report.txt")), 404, "NOT_FOUND");
    expect(refused.detail).toMatch(/expired at/);
    expect(refused.details).toMatchObject({ expired: stored.expiresAt });
    await expectProblem(await h.fetch(h.objectUrl(bucket, "short/report.txt")), 404, "NOT_FOUND");
    const head = await h.fetch(h.objectUrl(bucket, "short/report.txt"), { method: "HEAD" });
    expect(head.status).toBe(404);
    await expectProblem(
      await h.fetch(`${h.base}/v1/presign`, jsonPost({ bucket, key: "short/report.txt", method: "GET" })),
      404,
      "NOT_FOUND",
    );
    await expectProblem(
      await h.fetch(
        `${h.base}/v1/copy`,
        jsonPost({
          source: { bucket, key: "short/report.txt" },
          target: { bucket: h.app.config.buckets.userData, key: "copied/report.txt" },
        }),
      ),
      404,
      "NOT_FOUND",
    );
    // Refused, not yet removed: the sweep (or the lifecycle rule) does that.
    expect(await inStore("short/report.txt")).toBe(true);
  });

  it("refuses bad TTLs and stores nothing", async () => {
    const max = h.app.config.temp.maxTtlSeconds;
    const future = new Date(Date.now() + 60_000).toISOString();
    const cases = [
      "?ttl=0",
      "?ttl=-5",
      "?ttl=1.5",
      `?ttl=${max + 1}`,
      `?ttl=10&expiresAt=${encodeURIComponent(future)}`,
      `?expiresAt=${encodeURIComponent(new Date(Date.now() - 1000).toISOString())}`,
      `?expiresAt=${encodeURIComponent(new Date(Date.now() + (max + 60) * 1000).toISOString())}`,
    ];
    for (const query of cases) {
      const res = await put("refused/x.txt", "nope", query);
      expect(res.status, query).toBe(400);
      await res.text();
    }
    expect(await inStore("refused/x.txt")).toBe(false);
  });

  it("takes an expiry instant, and the default TTL when none is given", async () => {
    const at = new Date(Date.now() + 600_000);
    const explicit = await json<TempJson>(
      await put("instant.txt", "a", `?expiresAt=${encodeURIComponent(at.toISOString())}`),
    );
    expect(new Date(explicit.expiresAt).getTime()).toBe(at.getTime());
    const before = Date.now();
    const defaulted = await json<TempJson>(await put("default.txt", "b"));
    const ttl = (new Date(defaulted.expiresAt).getTime() - before) / 1000;
    expect(ttl).toBeGreaterThan(h.app.config.temp.defaultTtlSeconds - 60);
    expect(ttl).toBeLessThanOrEqual(h.app.config.temp.defaultTtlSeconds + 1);
  });

  it("refuses an unparsable expires-at on generic uploads (400) and stores nothing", async () => {
    const res = await h.fetch(h.objectUrl(bucket, "generic/bad.txt"), {
      method: "PUT",
      body: "x",
      headers: { "content-type": "text/plain", "x-meta-expires-at": "tomorrow" },
    });
    await expectProblem(res, 400, "INVALID_ARGUMENT");
    expect(await inStore("generic/bad.txt")).toBe(false);
  });

  it("sweeps expired objects from store and index, keeps live ones; a dry run deletes nothing", async () => {
    const expired = await json<TempJson>(await put("sweep/old.txt", "old bytes", "?ttl=1"));
    await json<TempJson>(await put("sweep/live.txt", "live", "?ttl=3600"));
    await untilPassed(expired.expiresAt);

    const dry = await json<SweepJson>(
      await h.fetch(`${h.base}/v1/admin/temp/sweep`, jsonPost({ dryRun: true })),
    );
    expect(dry).toMatchObject({ bucket, dryRun: true });
    expect(dry.deleted).toBeGreaterThanOrEqual(1);
    expect(dry.bytes).toBeGreaterThanOrEqual(9);
    expect(await inStore("sweep/old.txt")).toBe(true);
    expect(await h.app.index.find(bucket, "sweep/old.txt")).toBeDefined();

    const swept = await json<SweepJson>(
      await h.fetch(`${h.base}/v1/admin/temp/sweep`, jsonPost({ batchSize: 1 })),
    );
    expect(swept).toMatchObject({ dryRun: false, failed: 0 });
    expect(swept.deleted).toBe(dry.deleted);
    expect(swept.bytes).toBe(dry.bytes);
    expect(await inStore("sweep/old.txt")).toBe(false);
    expect(await h.app.index.find(bucket, "sweep/old.txt")).toBeUndefined();
    expect(await inStore("short/report.txt")).toBe(false);

    expect(await inStore("sweep/live.txt")).toBe(true);
    const live = await h.fetch(tempUrl("sweep/live.txt"));
    expect(await live.text()).toBe("live");

    const again = await json<SweepJson>(await h.fetch(`${h.base}/v1/admin/temp/sweep`, jsonPost({})));
    expect(again.deleted).toBe(0);
  });

  it("keeps an object written again with a later expiry, though its record was due", async () => {
    const first = await json<TempJson>(await put("renew.txt", "v1", "?ttl=1"));
    await untilPassed(first.expiresAt);
    // Written around the temp store (its record still says the old expiry): the object decides.
    const later = new Date(Date.now() + 3_600_000).toISOString();
    const rewritten = await h.fetch(h.objectUrl(bucket, "renew.txt"), {
      method: "PUT",
      body: "v2",
      headers: { "content-type": "text/plain", "x-meta-expires-at": later },
    });
    expect(rewritten.status).toBe(201);
    await rewritten.text();
    const swept = await json<SweepJson>(await h.fetch(`${h.base}/v1/admin/temp/sweep`, jsonPost({})));
    expect(swept).toMatchObject({ failed: 0 });
    expect(swept.renewed).toBeGreaterThanOrEqual(1);
    expect(await (await h.fetch(tempUrl("renew.txt"))).text()).toBe("v2");
    const next = await json<SweepJson>(await h.fetch(`${h.base}/v1/admin/temp/sweep`, jsonPost({})));
    expect(next.renewed).toBe(0);
  });

  it("needs write to upload, read to download, and admin on the temp bucket to sweep", async () => {
    const writer = await h.createKey("temp-writer", [`${bucket}/uploads/:write`]);
    const ok = await h.fetch(tempUrl("uploads/a.txt", "?ttl=60"), {
      method: "PUT",
      body: "a",
      headers: { ...bearer(writer), "content-type": "text/plain" },
    });
    expect(ok.status).toBe(201);
    await ok.text();
    const outside = await h.fetch(tempUrl("elsewhere/a.txt", "?ttl=60"), {
      method: "PUT",
      body: "a",
      headers: { ...bearer(writer), "content-type": "text/plain" },
    });
    await expectProblem(outside, 403, "PERMISSION_DENIED");
    expect(await inStore("elsewhere/a.txt")).toBe(false);
    await expectProblem(
      await h.fetch(tempUrl("uploads/a.txt"), { headers: bearer(writer) }),
      403,
      "PERMISSION_DENIED",
    );
    await expectProblem(
      await h.fetch(`${h.base}/v1/admin/temp/sweep`, {
        ...jsonPost({}),
        headers: { ...bearer(writer), "content-type": "application/json" },
      }),
      403,
      "PERMISSION_DENIED",
    );
  });
});

describe("the periodic sweep", () => {
  it("removes an expired object on its own (TEMP_SWEEP_INTERVAL)", async () => {
    const app = await createTestApp("minio", { TEMP_SWEEP_INTERVAL: "1" });
    try {
      app.tempStore.start();
      const stored = await app.tempStore.put({
        key: "periodic/gone.txt",
        body: Readable.from([Buffer.from("bye")]),
        ttlSeconds: 1,
        owner: "test",
      });
      await untilPassed(stored.expiresAt);
      // Polled until the sweep has run (the test's own timeout bounds it; no duration is asserted).
      while (await app.index.find(app.config.buckets.temp, "periodic/gone.txt")) {
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      await expect(app.store.head(app.config.buckets.temp, "periodic/gone.txt")).rejects.toMatchObject({
        code: "NOT_FOUND",
      });
    } finally {
      await app.dispose();
    }
  });
});
