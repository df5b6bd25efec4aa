import { Readable } from "node:stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { sha256Of, uploadableBytes } from "./support/data.ts";
import { type GrpcHarness, startGrpc } from "./support/grpc.ts";
import { type HttpHarness, startHttp } from "./support/http.ts";

/**
 * An index row is trusted only while it matches the store's ETag. After an out-of-band overwrite of
 * the same size (a direct S3 write, a presigned PUT), the service serves the new bytes with their
 * real sha256, re-derives the row instead of calling the read corrupt, never copies the stale hash,
 * and reconcile reports and repairs the row.
 */

const SIZE = 64 * 1024;

describe.each(["minio", "local"] as const)("out-of-band overwrites of the same size (%s)", (backend) => {
  let h: HttpHarness;
  let bucket: string;

  beforeAll(async () => {
    h = await startHttp(backend);
    bucket = h.app.config.buckets.temp;
  });

  afterAll(async () => {
    await h?.close();
  });

  /** Uploads through the service, then overwrites the key around it with other bytes of the same size. */
  async function overwritten(key: string): Promise<{ before: Buffer; after: Buffer }> {
    const before = uploadableBytes(SIZE);
    const after = uploadableBytes(SIZE);
    expect((await h.fetch(h.objectUrl(bucket, key), { method: "PUT", body: before })).status).toBe(201);
    await h.app.store.put(bucket, key, Readable.from([after]), {
      contentType: "application/octet-stream",
      metadata: {},
    });
    return { before, after };
  }

  it("stat hashes the new bytes once and records them", async () => {
    const { after } = await overwritten("oob/stat.bin");
    const rederived = h.app.service.rederivedRows;
    const head = await h.fetch(h.objectUrl(bucket, "oob/stat.bin"), { method: "HEAD" });
    expect(head.status).toBe(200);
    const info = await h.app.service.stat(bucket, "oob/stat.bin");
    expect(info.sha256).toBe(sha256Of(after));
    expect(h.app.service.rederivedRows).toBeGreaterThan(rederived);
    const row = await h.app.index.find(bucket, "oob/stat.bin");
    expect(row).toMatchObject({ sha256: sha256Of(after), etag: info.etag, owner: "out-of-band" });
    // Once re-derived, the row is trusted again: no further hashing.
    const count = h.app.service.rederivedRows;
    await h.app.service.stat(bucket, "oob/stat.bin");
    expect(h.app.service.rederivedRows).toBe(count);
  });

  it("a full download serves the new bytes completely, and the row follows", async () => {
    const { after } = await overwritten("oob/get.bin");
    const res = await h.fetch(h.objectUrl(bucket, "oob/get.bin"));
    expect(res.status).toBe(200);
    expect(Buffer.from(await res.arrayBuffer())).toEqual(after);
    // The row is recorded once the body has passed; wait for it by polling the index (no timing bound).
    let row = await h.app.index.find(bucket, "oob/get.bin");
    while (row?.sha256 !== sha256Of(after)) {
      await new Promise((r) => setTimeout(r, 20));
      row = await h.app.index.find(bucket, "oob/get.bin");
    }
    expect(row).toMatchObject({ sha256: sha256Of(after), size: SIZE });
    const metrics = await (await fetch(`${h.base}/metrics`)).text();
    expect(metrics).toMatch(/^lumenslate_storage_index_rows_rederived_total [1-9]/m);
  });

  it("a copy records the sha256 of the bytes it copied, not the stale one", async () => {
    const { before, after } = await overwritten("oob/src.bin");
    const copied = await h.app.service.copy({ bucket, key: "oob/src.bin" }, { bucket, key: "oob/dst.bin" });
    expect(copied.sha256).toBe(sha256Of(after));
    expect(copied.sha256).not.toBe(sha256Of(before));
    expect((await h.app.index.find(bucket, "oob/dst.bin"))?.sha256).toBe(sha256Of(after));
    expect((await h.app.index.find(bucket, "oob/src.bin"))?.sha256).toBe(sha256Of(after));
  });

  it("reconcile reports the stale row and repairs it", async () => {
    const { after } = await overwritten("oob/rec.bin");
    const report = await h.app.service.reconcile(bucket, { repair: false });
    expect(report.mismatched).toContain("oob/rec.bin");
    const repaired = await h.app.service.reconcile(bucket, { repair: true });
    expect(repaired.repaired).toBeGreaterThanOrEqual(1);
    expect((await h.app.index.find(bucket, "oob/rec.bin"))?.sha256).toBe(sha256Of(after));
    expect((await h.app.service.reconcile(bucket, { repair: false })).mismatched).toEqual([]);
  });
});

describe("out-of-band: a presigned PUT of the same size, then gRPC (MinIO)", () => {
  let g: GrpcHarness;

  beforeAll(async () => {
    g = await startGrpc();
  });

  afterAll(async () => {
    await g?.close();
  });

  it("downloads the new bytes over gRPC with their real sha256, no DATA_LOSS", async () => {
    const bucket = g.app.config.buckets.temp;
    const key = "oob/presigned.bin";
    await g.client.upload(uploadableBytes(SIZE), { bucket, objectName: key });
    const after = uploadableBytes(SIZE);
    const url = await g.app.service.presign(bucket, key, { method: "PUT", expiresInSeconds: 60 });
    const put = await fetch(url.url, { method: "PUT", body: after });
    expect(put.status).toBe(200);
    const { file, stream } = await g.client.downloadStream({ bucket, objectName: key });
    const chunks: Buffer[] = [];
    for await (const chunk of stream) chunks.push(chunk as Buffer);
    expect(Buffer.concat(chunks)).toEqual(after);
    expect(file.size).toBe(SIZE);
    expect((await g.client.stat({ bucket, objectName: key })).sha256).toBe(sha256Of(after));
  });
});
