import { PassThrough } from "node:stream";
import { status } from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { uploadableBytes } from "./support/data.ts";
import { failure, type GrpcHarness, startGrpc } from "./support/grpc.ts";
import { expectProblem, type HttpHarness, startHttp, streamed } from "./support/http.ts";

/**
 * Admission control: with room for N uploads, N run and the next one is refused at once with a
 * retry hint (HTTP 503 + Retry-After, gRPC RESOURCE_EXHAUSTED + x-retry-after-seconds), stores
 * nothing, and the admitted ones still complete. The buffer budget refuses a large upload whose
 * reservation does not fit, while a small one of known size still gets in.
 */

/** Waits (by events, polling the core's own counter) until `n` uploads are admitted. */
async function admitted(read: () => number, n: number): Promise<void> {
  while (read() < n) await new Promise((r) => setTimeout(r, 10));
}

/** A body that has started (so the upload is admitted and reading) and ends when told to. */
function openBody(): { body: PassThrough; finish(): void } {
  const body = new PassThrough();
  body.write(uploadableBytes(64 * 1024));
  return {
    body,
    finish: () => body.end(uploadableBytes(1024)),
  };
}

describe("admission control over HTTP (MinIO)", () => {
  let h: HttpHarness;

  beforeAll(async () => {
    h = await startHttp("minio", { STORAGE_MAX_CONCURRENT_UPLOADS: "2", STORAGE_MAX_BUFFERED_BYTES: "1GiB" });
  });

  afterAll(async () => {
    await h?.close();
  });

  it("runs N uploads, refuses the N+1st with 503 and Retry-After, then admits again", async () => {
    const bucket = h.app.config.buckets.temp;
    const open = [openBody(), openBody()];
    const running = open.map((o, i) =>
      h.fetch(h.objectUrl(bucket, `adm/held-${i}.bin`), streamed(o.body, { method: "PUT" })),
    );
    await admitted(() => h.app.service.admission.uploads, 2);

    const refused = await h.fetch(h.objectUrl(bucket, "adm/third.bin"), { method: "PUT", body: "x" });
    expect(refused.headers.get("retry-after")).toBe("2");
    const problem = await expectProblem(refused, 503, "OVERLOADED");
    expect(problem.detail).toMatch(/concurrent uploads/);
    expect(h.app.service.admission.refused).toBe(1);

    for (const o of open) o.finish();
    expect((await Promise.all(running)).map((r) => r.status)).toEqual([201, 201]);
    expect(h.app.service.admission).toMatchObject({ uploads: 0, bufferedBytes: 0 });

    // Nothing of the refused upload exists; after the others finished, the same upload goes through.
    expect((await h.fetch(h.objectUrl(bucket, "adm/third.bin"), { method: "HEAD" })).status).toBe(404);
    expect((await h.fetch(h.objectUrl(bucket, "adm/third.bin"), { method: "PUT", body: "x" })).status).toBe(
      201,
    );

    const metrics = await (await fetch(`${h.base}/metrics`)).text();
    expect(metrics).toMatch(/^lumenslate_storage_uploads_refused_total 1$/m);
    expect(metrics).toMatch(/^lumenslate_storage_uploads_in_flight 0$/m);
  });
});

describe("admission control's buffer budget (MinIO)", () => {
  let h: HttpHarness;
  const MiB = 1024 * 1024;

  beforeAll(async () => {
    // A multipart upload may hold part size × parts in flight = 5 MiB × 2 = 10 MiB; the budget is 12.
    h = await startHttp("minio", {
      STORAGE_MULTIPART_PART_SIZE: "5MiB",
      STORAGE_MULTIPART_CONCURRENCY: "2",
      STORAGE_MAX_BUFFERED_BYTES: "12MiB",
    });
  });

  afterAll(async () => {
    await h?.close();
  });

  it("reserves one part for a body of unknown size, the rest once it proves larger, and refuses beyond the budget", async () => {
    const bucket = h.app.config.buckets.temp;
    // Two uploads of unknown size (chunked): one part (5 MiB) each.
    const first = openBody();
    const second = openBody();
    const running = [first, second].map((o, i) =>
      h.fetch(h.objectUrl(bucket, `buf/held-${i}.bin`), streamed(o.body, { method: "PUT" })),
    );
    await admitted(() => h.app.service.admission.uploads, 2);
    expect(h.app.service.admission.bufferedBytes).toBe(10 * MiB);

    // A third of unknown size does not fit (15 > 12) and is refused before a byte is read.
    const third = openBody();
    third.finish();
    const refused = await h.fetch(
      h.objectUrl(bucket, "buf/third.bin"),
      streamed(third.body, { method: "PUT" }),
    );
    expect((await expectProblem(refused, 503, "OVERLOADED")).detail).toMatch(/buffered upload bytes/);

    // Content-Length 1 KiB: it reserves 1 KiB and fits.
    const small = await h.fetch(h.objectUrl(bucket, "buf/small.bin"), {
      method: "PUT",
      body: uploadableBytes(1024),
    });
    expect(small.status).toBe(201);

    // The first body grows past one part: it needs 5 MiB more, which the budget no longer has, so
    // that upload fails with OVERLOADED and stores nothing; the second still completes.
    first.body.end(uploadableBytes(6 * MiB));
    second.finish();
    const [grown, ok] = await Promise.all(running);
    expect(grown?.status).toBe(503);
    expect((await grown?.json()) as { code: string }).toMatchObject({ code: "OVERLOADED" });
    expect(ok?.status).toBe(201);
    expect((await h.fetch(h.objectUrl(bucket, "buf/held-0.bin"), { method: "HEAD" })).status).toBe(404);
    expect(await h.app.store.listIncompleteUploads(bucket)).toEqual([]);
    expect(h.app.service.admission).toMatchObject({ uploads: 0, bufferedBytes: 0 });

    // Alone, the same large body of unknown size grows to its full reservation and is stored.
    const alone = openBody();
    const uploading = h.fetch(h.objectUrl(bucket, "buf/alone.bin"), streamed(alone.body, { method: "PUT" }));
    alone.body.end(uploadableBytes(11 * MiB));
    expect((await uploading).status).toBe(201);
  });
});

describe("admission control over gRPC", () => {
  let g: GrpcHarness;

  beforeAll(async () => {
    g = await startGrpc({ env: { STORAGE_MAX_CONCURRENT_UPLOADS: "1" } });
  });

  afterAll(async () => {
    await g?.close();
  });

  it("refuses the upload beyond the bound with RESOURCE_EXHAUSTED and a retry hint", async () => {
    const bucket = g.app.config.buckets.temp;
    const held = openBody();
    const running = g.client.uploadStream(held.body, { bucket, objectName: "adm/grpc-held.bin" });
    await admitted(() => g.app.service.admission.uploads, 1);

    const err = await failure(g.client.upload("x", { bucket, objectName: "adm/grpc-refused.txt" }));
    expect({ code: err.code, grpc: err.grpcCode, retry: err.retryAfterSeconds }).toEqual({
      code: "OVERLOADED",
      grpc: status.RESOURCE_EXHAUSTED,
      retry: 2,
    });

    held.finish();
    expect((await running).size).toBe(64 * 1024 + 1024);
    await expect(g.client.stat({ bucket, objectName: "adm/grpc-refused.txt" })).rejects.toMatchObject({
      code: "NOT_FOUND",
    });
  });
});
