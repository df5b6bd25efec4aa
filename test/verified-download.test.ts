import { createHash } from "node:crypto";
import { open, readdir } from "node:fs/promises";
import { join } from "node:path";
import { status } from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { AppContext } from "../src/app.ts";
import { DATA_FILE_RE } from "../src/backends/local/layout.ts";
import { uploadableBytes } from "./support/data.ts";
import { failure, type GrpcHarness, startGrpc } from "./support/grpc.ts";
import { download, type HttpHarness, type Received, startHttp } from "./support/http.ts";

/**
 * A full download is verified against the recorded sha256, and a reader never receives every byte
 * of an object that fails the check: HTTP cuts the response before its last bytes (the client sees
 * a body shorter than Content-Length and a reset, never a complete 200), gRPC ends with DATA_LOSS.
 * Corruption is made two ways, both leaving the store's ETag alone (so it is corruption, not an
 * out-of-band write): a local-backend data file edited in place, and an index row whose sha256 no
 * longer describes the stored bytes.
 */

const sha = (b: Buffer) => createHash("sha256").update(b).digest("hex");

async function findDataFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true, recursive: true })) {
    if (entry.isFile() && DATA_FILE_RE.test(entry.name)) out.push(join(entry.parentPath, entry.name));
  }
  return out;
}

/** Flips one byte in place: same size, same recorded ETag, other bytes. */
async function flipByte(file: string, at: number): Promise<void> {
  const handle = await open(file, "r+");
  try {
    const one = Buffer.alloc(1);
    await handle.read(one, 0, 1, at);
    one[0] = (one[0] ?? 0) ^ 0xff;
    await handle.write(one, 0, 1, at);
  } finally {
    await handle.close();
  }
}

/** Makes the index row claim other bytes than the store holds (ETag and size untouched). */
async function falsifyRecordedSha(app: AppContext, bucket: string, key: string): Promise<void> {
  const result = await app.db
    .updateTable("object_versions")
    .set({ sha256: sha(Buffer.from(`not-${key}`)) })
    .where("bucket", "=", bucket)
    .where("key", "=", key)
    .executeTakeFirst();
  expect(Number(result.numUpdatedRows)).toBe(1);
}

const SIZES = [12, 200 * 1024, 3 * 1024 * 1024 + 17];

/**
 * An object that arrives in one chunk fails before the headers go out: a plain 502 problem. A
 * larger one has sent its headers and earlier chunks when the check fails: the body stops short.
 */
function expectCutShort(got: Received, size: number): void {
  if (size <= 1024) {
    expect(got.status).toBe(502);
    expect(JSON.parse(got.bytes.toString("utf8"))).toMatchObject({ code: "DATA_CORRUPTED" });
    return;
  }
  expect(got.status).toBe(200);
  expect(got.contentLength).toBe(size);
  expect(got.complete).toBe(false);
  expect(got.bytes.length).toBeLessThan(size);
}

describe("HTTP full downloads never deliver a complete corrupted object", () => {
  describe("local backend, data file edited in place", () => {
    let h: HttpHarness;

    beforeAll(async () => {
      h = await startHttp("local");
    });

    afterAll(async () => {
      await h?.close();
    });

    it.each(SIZES)("%i bytes: the response stops short of Content-Length", async (size) => {
      const bucket = h.app.config.buckets.temp;
      const key = `rot/${size}.bin`;
      const data = uploadableBytes(size);
      const before = new Set(await findDataFiles(h.app.config.storage.localRoot));
      const put = await h.fetch(h.objectUrl(bucket, key), { method: "PUT", body: data });
      expect(put.status).toBe(201);
      const created = (await findDataFiles(h.app.config.storage.localRoot)).filter((f) => !before.has(f));
      expect(created).toHaveLength(1);

      // Intact: every byte, and a complete response.
      const good = await download(h.objectUrl(bucket, key), h.token);
      expect({ status: good.status, complete: good.complete, sha: sha(good.bytes) }).toEqual({
        status: 200,
        complete: true,
        sha: sha(data),
      });

      await flipByte(created[0] as string, Math.floor(size / 2));
      expectCutShort(await download(h.objectUrl(bucket, key), h.token), size);
    });
  });

  describe("MinIO, index row that no longer describes the stored bytes", () => {
    let h: HttpHarness;

    beforeAll(async () => {
      h = await startHttp("minio");
    });

    afterAll(async () => {
      await h?.close();
    });

    it.each(SIZES)("%i bytes: the response stops short of Content-Length", async (size) => {
      const bucket = h.app.config.buckets.temp;
      const key = `rot/${size}.bin`;
      const data = uploadableBytes(size);
      expect((await h.fetch(h.objectUrl(bucket, key), { method: "PUT", body: data })).status).toBe(201);
      await falsifyRecordedSha(h.app, bucket, key);
      expectCutShort(await download(h.objectUrl(bucket, key), h.token), size);
      // A range read is not verified (it cannot be), and still serves the bytes asked for.
      const ranged = await h.fetch(h.objectUrl(bucket, key), { headers: { range: "bytes=0-9" } });
      expect(ranged.status).toBe(206);
      expect(Buffer.from(await ranged.arrayBuffer())).toEqual(data.subarray(0, 10));
    });
  });
});

describe("gRPC full downloads of a corrupted object end with DATA_LOSS", () => {
  let g: GrpcHarness;

  beforeAll(async () => {
    g = await startGrpc();
  });

  afterAll(async () => {
    await g?.close();
  });

  it.each(SIZES)("%i bytes", async (size) => {
    const bucket = g.app.config.buckets.temp;
    const objectName = `rot/grpc-${size}.bin`;
    const data = uploadableBytes(size);
    await g.client.upload(data, { bucket, objectName });
    await falsifyRecordedSha(g.app, bucket, objectName);
    const { stream } = await g.client.downloadStream({ bucket, objectName });
    let received = 0;
    const err = await failure(
      (async () => {
        for await (const chunk of stream) received += (chunk as Buffer).length;
      })(),
    );
    expect({ code: err.code, grpc: err.grpcCode }).toEqual({
      code: "DATA_CORRUPTED",
      grpc: status.DATA_LOSS,
    });
    expect(received).toBeLessThan(size);
  });
});
