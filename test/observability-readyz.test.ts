import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type HttpServer, startHttpServer } from "../src/transports/http/server.ts";
import { createTestApp, type TestApp } from "./support/app.ts";
import { type MinioServer, startMinio } from "./support/minio.ts";

/**
 * /readyz follows MinIO: 503 while it is down, 200 once it is back, on a MinIO of this suite's own
 * (the shared one must stay up for the other suites). The degraded report of a 4-node cluster with
 * a node down is covered by test/distributed-minio.test.ts.
 */
describe("/readyz when MinIO is killed and restarted", () => {
  let minio: MinioServer;
  let app: TestApp;
  let server: HttpServer;

  beforeAll(async () => {
    minio = await startMinio();
    app = await createTestApp("minio", {
      MINIO_ENDPOINT: minio.endpoint,
      MINIO_ACCESS_KEY: minio.accessKey,
      MINIO_SECRET_KEY: minio.secretKey,
      HTTP_HOST: "127.0.0.1",
      HTTP_PORT: "0",
    });
    server = await startHttpServer(app);
  });

  afterAll(async () => {
    await server?.close();
    await app?.dispose();
    await minio?.destroy();
  });

  const readyz = async () => {
    const res = await fetch(`${server.address}/readyz`);
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  };

  /** Polls until /readyz answers `status` (the test's timeout bounds the wait). */
  const until = async (status: number) => {
    for (;;) {
      const answer = await readyz();
      if (answer.status === status) return answer;
      await new Promise((done) => setTimeout(done, 200));
    }
  };

  it("answers 200, then 503 UNAVAILABLE while MinIO is down, then 200 again", async () => {
    expect(await readyz()).toMatchObject({ status: 200, body: { status: "ready", store: "ok" } });
    await minio.kill();
    const down = await until(503);
    expect(down.body).toMatchObject({ status: "unavailable", code: "UNAVAILABLE" });
    // The answer names no address: /readyz is public.
    expect(JSON.stringify(down.body)).not.toContain(String(minio.port));
    await minio.start();
    expect(await until(200)).toMatchObject({ body: { status: "ready", store: "ok" } });
  }, 120_000);
});
