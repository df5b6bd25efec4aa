import { Readable } from "node:stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { orphanCount } from "../src/core/reconcile.ts";
import { createTestApp, type TestApp } from "./support/app.ts";
import { uploadableBytes } from "./support/data.ts";
import { type MinioServer, startMinio } from "./support/minio.ts";

const MiB = 1024 * 1024;

/** MinIO dies (SIGKILL) in the middle of a large upload: the caller gets UNAVAILABLE and nothing is left visible. */
describe("fault: MinIO killed mid-upload", () => {
  let minio: MinioServer;
  let app: TestApp;

  beforeAll(async () => {
    minio = await startMinio();
    app = await createTestApp("minio", {
      MINIO_ENDPOINT: minio.endpoint,
      MINIO_ACCESS_KEY: minio.accessKey,
      MINIO_SECRET_KEY: minio.secretKey,
    });
  });
  afterAll(async () => {
    await app?.dispose();
    await minio?.destroy();
  });

  it("fails with UNAVAILABLE, writes no row, and reconcile finds no orphans after restart", async () => {
    const bucket = app.config.buckets.temp;
    const key = "fault/big.bin";
    await app.service.upload({
      bucket,
      key: "fault/before.bin",
      body: Readable.from([uploadableBytes(1024)]),
    });

    let sent = 0;
    let killing: Promise<void> | undefined;
    const body = new Readable({
      read() {
        sent += MiB;
        if (sent === 64 * MiB) killing = minio.kill();
        this.push(sent > 512 * MiB ? null : uploadableBytes(MiB));
      },
    });
    const error = await app.service.upload({ bucket, key, body }).then(
      () => undefined,
      (err: unknown) => err,
    );
    await killing;
    expect(error).toMatchObject({ name: "StorageError", code: "UNAVAILABLE" });
    expect((error as Error).message).toMatch(/could not be reached/);
    // It gave up instead of retrying until the body ran out: it stopped reading long before its end
    // (how long that took depends on the machine; a hang is the test timeout's to catch).
    expect(sent).toBeLessThan(512 * MiB);
    expect(await app.index.find(bucket, key)).toBeUndefined();

    await minio.start();
    await expect(app.service.stat(bucket, key)).rejects.toMatchObject({ code: "NOT_FOUND" });
    const listed = await app.store.list(bucket, { prefix: "fault/" });
    expect(listed.objects.map((o) => o.key)).toEqual(["fault/before.bin"]);

    const report = await app.service.reconcile(bucket, { repair: false });
    expect(orphanCount(report)).toBe(0);
    expect(report).toMatchObject({ objects: 1, rows: 1 });

    // The interrupted multipart upload could not be aborted while MinIO was down; reconcile clears it.
    const cleanup = await app.service.reconcile(bucket, { repair: true, staleUploadHours: 0 });
    expect(orphanCount(cleanup)).toBe(0);
    expect(await app.store.listIncompleteUploads(bucket)).toEqual([]);
  });
});
