import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestApp } from "./support/app.ts";
import { randomSource, sha256Of } from "./support/data.ts";
import { type HttpHarness, json, type ObjectInfoJson, startHttp } from "./support/http.ts";
import { type DistributedMinio, startDistributedMinio } from "./support/minio.ts";
import { describeServiceContract } from "./support/service-contract.ts";

const MiB = 1024 * 1024;

/**
 * The production topology for real: a 4-node distributed MinIO (4 processes × 2 drives, one
 * erasure-coded set of 8) on this machine. The storage contract runs through the service against
 * it; then one node is killed (SIGKILL, no goodbye), the service keeps reading and writing and
 * /readyz says "degraded"; after the node returns, everything written during the outage reads back
 * with its sha256.
 *
 * There is no load balancer here: the service talks to node 1, so node 4 is the one that dies.
 */
let cluster: DistributedMinio;

beforeAll(async () => {
  cluster = await startDistributedMinio({ nodes: 4 });
});
afterAll(async () => {
  await cluster?.destroy();
});

const clusterEnv = () => ({
  MINIO_ENDPOINT: cluster.endpoint,
  MINIO_ACCESS_KEY: cluster.accessKey,
  MINIO_SECRET_KEY: cluster.secretKey,
});

describeServiceContract("distributed MinIO (4 nodes)", () => createTestApp("minio", clusterEnv()));

describe("distributed MinIO losing a node", () => {
  let h: HttpHarness;

  beforeAll(async () => {
    h = await startHttp("minio", clusterEnv());
  });
  afterAll(async () => {
    await h?.close();
  });

  const readyz = async () => json<{ status: string; store: string }>(await h.fetch(`${h.base}/readyz`));

  /** Polls /readyz until its `store` is `want` (the test's timeout bounds the wait). */
  const readyzUntil = async (want: string) => {
    for (;;) {
      const body = await readyz();
      if (body.store === want) return body;
      await new Promise((done) => setTimeout(done, 250));
    }
  };

  const put = async (bucket: string, key: string, body: Buffer) => {
    const res = await h.fetch(h.objectUrl(bucket, key), { method: "PUT", body });
    expect(res.status, await res.clone().text()).toBe(201);
    return json<ObjectInfoJson>(res);
  };

  const getSha256 = async (bucket: string, key: string) => {
    const res = await h.fetch(h.objectUrl(bucket, key));
    expect(res.status).toBe(200);
    return sha256Of(Buffer.from(await res.arrayBuffer()));
  };

  /** Bodies of several sizes: one byte, small, and one above the part size (a multipart upload). */
  const bodies = async (label: string) => {
    const sizes = [1, 300 * 1024, h.app.config.storage.multipart.partSize + 3 * MiB];
    return Promise.all(
      sizes.map(async (size, i) => {
        const source = randomSource(size);
        const chunks: Buffer[] = [];
        for await (const chunk of source.stream) chunks.push(chunk as Buffer);
        return { key: `outage/${label}-${i}.bin`, data: Buffer.concat(chunks), sha256: await source.sha256 };
      }),
    );
  };

  it("keeps serving with a node down, says degraded on /readyz, and has everything once it returns", async () => {
    const bucket = h.app.config.buckets.temp;
    const versioned = h.app.config.buckets.modelArtifacts;
    expect(await readyz()).toMatchObject({ status: "ready", store: "ok" });
    const before = await bodies("before");
    for (const b of before) expect((await put(bucket, b.key, b.data)).sha256).toBe(b.sha256);

    const lost = cluster.nodes[3];
    if (!lost) throw new Error("no node 4");
    await lost.kill();
    // 200, but degraded: the cluster has no node left to lose.
    const degraded = await readyzUntil("degraded");
    expect(degraded.status).toBe("ready");

    // Reads of what was there, and writes (single part and multipart, plain and versioned).
    for (const b of before) expect(await getSha256(bucket, b.key)).toBe(b.sha256);
    const during = await bodies("during");
    for (const b of during) {
      expect((await put(bucket, b.key, b.data)).sha256).toBe(b.sha256);
      expect((await put(versioned, b.key, b.data)).sha256).toBe(b.sha256);
    }
    for (const b of during) expect(await getSha256(bucket, b.key)).toBe(b.sha256);
    const overwritten = await put(bucket, before[0]?.key ?? "", Buffer.from("replaced during the outage"));

    await lost.start();
    expect(await readyzUntil("ok")).toMatchObject({ status: "ready", store: "ok" });
    for (const b of during) {
      expect(await getSha256(bucket, b.key)).toBe(b.sha256);
      expect(await getSha256(versioned, b.key)).toBe(b.sha256);
    }
    expect(await getSha256(bucket, before[0]?.key ?? "")).toBe(overwritten.sha256);
    for (const b of before.slice(1)) expect(await getSha256(bucket, b.key)).toBe(b.sha256);
    // The index agrees with the store on what the outage wrote: the latest row is the current object.
    for (const b of during) {
      const head = await h.app.store.head(versioned, b.key);
      const row = await h.app.db
        .selectFrom("object_versions")
        .select(["version_id", "etag", "sha256"])
        .where("bucket", "=", versioned)
        .where("key", "=", b.key)
        .where("is_latest", "=", true)
        .executeTakeFirst();
      expect(row).toEqual({ version_id: head.versionId, etag: head.etag, sha256: b.sha256 });
    }
  });
});
