import { connect as connectHttp2 } from "node:http2";
import { Readable } from "node:stream";
import { status } from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connect, type StorageClient, StorageClientError } from "../packages/client/src/index.ts";
import { storagePackageDefinition } from "../src/transports/grpc/definition.ts";
import { type GrpcServer, startGrpcServer } from "../src/transports/grpc/server.ts";
import type { UploadDecoder } from "../src/transports/grpc/services/upload.ts";
import type { TestApp } from "./support/app.ts";
import { digestStream, randomSource, uploadableBytes } from "./support/data.ts";
import { type GrpcHarness, startGrpc } from "./support/grpc.ts";
import { watchUpload } from "./support/watch.ts";

const MiB = 1024 * 1024;

/**
 * A body that announces 200 MiB, sends the first `sendBytes` and then stalls (as a client that is
 * about to cancel would), recording how much it produced.
 */
function stallingBody(sendBytes: number): { stream: Readable; sent: () => number } {
  let sent = 0;
  const stream = new Readable({
    read() {
      if (sent >= sendBytes) return; // stall: never push again
      sent += MiB;
      this.push(uploadableBytes(MiB));
    },
  });
  return { stream, sent: () => sent };
}

const until = async (what: string, check: () => Promise<boolean>, timeoutMs = 20_000): Promise<void> => {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
};

describe("gRPC cancellation, deadlines and shutdown", () => {
  let h: GrpcHarness;
  let app: TestApp;
  let server: GrpcServer;
  let client: StorageClient;
  let bucket: string;
  let logLines: Record<string, unknown>[];

  beforeAll(async () => {
    // 5 MiB parts, so 10 MiB into an upload the multipart upload exists and has parts.
    h = await startGrpc({ env: { RATE_LIMIT_ENABLED: "false", STORAGE_MULTIPART_PART_SIZE: "5MiB" } });
    ({ app, server, client } = h);
    logLines = h.logs.lines;
    bucket = app.config.buckets.temp;
  });
  afterAll(async () => {
    await h?.close();
    h?.logs.expectNoSecrets(h.secrets);
  });

  /** No object, no incomplete multipart upload and no index row for the key. */
  const expectNothingLeft = async (key: string) => {
    await expect(app.service.stat(bucket, key)).rejects.toMatchObject({ code: "NOT_FOUND" });
    expect(await app.index.find(bucket, key)).toBeUndefined();
    expect((await app.store.list(bucket, { prefix: key })).objects).toEqual([]);
    expect((await app.store.listIncompleteUploads(bucket)).filter((u) => u.key === key)).toEqual([]);
  };

  const hasMultipart = (key: string) => async () =>
    (await app.store.listIncompleteUploads(bucket)).some((u) => u.key === key);

  /** The request id a call for `key` sends (request ids are `[A-Za-z0-9._-]`: no slashes). */
  const idFor = (key: string) => key.replaceAll("/", "-");

  const callLine = (key: string) =>
    logLines.find(
      (l) =>
        l.msg === "grpc call" &&
        l.method === "/lumenslate.storage.v1.StorageService/UploadFile" &&
        l.requestId === idFor(key),
    );

  it("a client cancelling after 10 MiB of a 200 MiB upload leaves no object, no parts and no row", async () => {
    const key = "cancel/big.bin";
    const body = stallingBody(10 * MiB);
    const controller = new AbortController();
    const upload = client.upload(body.stream, {
      bucket,
      objectName: key,
      expectedSize: 200 * MiB,
      signal: controller.signal,
      requestId: idFor(key),
    });
    // Both, in whichever order this machine gets there: the client has sent its 10 MiB and the
    // server has started the multipart upload.
    await until("the body to be sent", async () => body.sent() === 10 * MiB);
    await until("the multipart upload to start", hasMultipart(key));
    controller.abort();
    const err = await upload.then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(StorageClientError);
    expect((err as StorageClientError).code).toBe("CANCELLED");
    expect(await server.inFlight.drain(15_000)).toBe(true);
    await expectNothingLeft(key);
    expect(callLine(key)).toMatchObject({ code: "CANCELLED" });
    expect(callLine(key)?.bytesIn).toBeGreaterThanOrEqual(5 * MiB);
  });

  it("never mistakes a cancel for the end of an upload (HTTP/2 reports the reset as a clean end first)", async () => {
    // Small enough to be all on the server when the cancel comes (the cancel is sent once the
    // server's decoder has taken every byte), so only the cancel tells this apart from a complete
    // 1 MiB upload. Repeated because what grpc-js reports first is up to its event order.
    for (let attempt = 0; attempt < 5; attempt++) {
      const key = `cancel/small-${attempt}.bin`;
      const watch = watchUpload(app.service, key);
      try {
        const body = stallingBody(MiB);
        const controller = new AbortController();
        const upload = client.upload(body.stream, { bucket, objectName: key, signal: controller.signal });
        const decoder = (await watch.started).body as UploadDecoder;
        await until("the server to receive every byte", async () => decoder.received === MiB);
        controller.abort();
        await expect(upload).rejects.toMatchObject({ code: "CANCELLED" });
        expect(await server.inFlight.drain(15_000)).toBe(true);
        await expectNothingLeft(key);
      } finally {
        watch.restore();
      }
    }
  });

  it("a client whose deadline passes mid-upload gets DEADLINE_EXCEEDED and leaves nothing", async () => {
    const key = "deadline/client.bin";
    const body = stallingBody(10 * MiB);
    const started = Date.now();
    const err = await client
      .upload(body.stream, { bucket, objectName: key, timeoutMs: 3_000, requestId: idFor(key) })
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    expect(err).toMatchObject({ code: "DEADLINE_EXCEEDED" });
    expect(Date.now() - started).toBeGreaterThanOrEqual(2_900);
    expect(await server.inFlight.drain(15_000)).toBe(true);
    await expectNothingLeft(key);
    // The server learns of the end from whichever comes first: its own timer for the call's
    // grpc-timeout, or the client's RST_STREAM when the client's timer fires. Both end the call
    // the same way (nothing stored, checked above); only the logged code differs.
    expect(["DEADLINE_EXCEEDED", "CANCELLED"]).toContain(callLine(key)?.code);
  });

  it("the server enforces a deadline itself and cleans up (server-side DEADLINE_EXCEEDED)", async () => {
    // A bare HTTP/2 client that sends grpc-timeout but never gives up, so only the server's timer can end the call.
    const key = "deadline/server.bin";
    const method = storagePackageDefinition()["lumenslate.storage.v1.StorageService"] as unknown as Record<
      string,
      { requestSerialize(value: object): Buffer }
    >;
    const serialize = (message: object) => {
      const body = method.UploadFile?.requestSerialize(message) as Buffer;
      const frame = Buffer.alloc(5 + body.length);
      frame.writeUInt32BE(body.length, 1);
      body.copy(frame, 5);
      return frame;
    };
    const session = connectHttp2(`http://127.0.0.1:${server.port}`);
    try {
      const stream = session.request({
        ":method": "POST",
        ":path": "/lumenslate.storage.v1.StorageService/UploadFile",
        "content-type": "application/grpc",
        te: "trailers",
        "grpc-timeout": "2S",
        "x-request-id": idFor(key),
        authorization: `Bearer ${h.adminToken}`,
      });
      const grpcStatus = new Promise<string | undefined>((resolve) => {
        const pick = (headers: Record<string, unknown>) => {
          if (headers["grpc-status"] !== undefined) resolve(String(headers["grpc-status"]));
        };
        stream.on("response", pick);
        stream.on("trailers", pick);
        stream.on("close", () => resolve(undefined));
      });
      stream.on("data", () => {});
      const started = Date.now();
      stream.write(serialize({ header: { bucket, objectName: key } }));
      for (let i = 0; i < 10; i++) stream.write(serialize({ chunk: uploadableBytes(MiB) }));
      // Usually the multipart upload has started when the deadline passes (so there are parts to
      // clean up); on a slow machine the deadline may come first. Either way nothing may be left.
      let ended = false;
      void grpcStatus.then(() => {
        ended = true;
      });
      await until("the multipart upload to start", async () => ended || (await hasMultipart(key)()));
      expect(await grpcStatus).toBe(String(status.DEADLINE_EXCEEDED));
      expect(Date.now() - started).toBeGreaterThanOrEqual(1_900);
      stream.close();
    } finally {
      session.close();
    }
    expect(await server.inFlight.drain(15_000)).toBe(true);
    await expectNothingLeft(key);
    expect(callLine(key)).toMatchObject({ code: "DEADLINE_EXCEEDED" });
  });

  it("graceful shutdown lets an in-flight download finish and refuses new calls", async () => {
    const source = randomSource(24 * MiB);
    await client.upload(source.stream, { bucket, objectName: "shutdown/data.bin" });
    const sha256 = await source.sha256;

    const own = await startGrpcServer(app, { host: "127.0.0.1", port: 0 });
    const ownClient = connect(`127.0.0.1:${own.port}`, { token: h.adminToken });
    try {
      const download = await ownClient.downloadStream({ bucket, objectName: "shutdown/data.bin" });
      // A grace period far beyond the test's timeout: close() can only resolve by waiting for the
      // download, never by running out the grace period.
      const closing = own.close(3_600);
      // New calls are refused while draining...
      const refused = await ownClient
        .stat({ bucket, objectName: "shutdown/data.bin" }, { timeoutMs: 1_000 })
        .then(
          () => undefined,
          (e: unknown) => e,
        );
      expect(refused).toBeInstanceOf(StorageClientError);
      // ...and the download started before completes, however long this machine takes for it.
      expect(await digestStream(download.stream)).toEqual({ sha256, size: 24 * MiB });
      await closing;
    } finally {
      ownClient.close();
      own.server.forceShutdown();
      await own.close(0);
    }
  });

  it("graceful shutdown cancels a call that outlives the grace period, leaving nothing behind", async () => {
    const own = await startGrpcServer(app, { host: "127.0.0.1", port: 0 });
    const ownClient = connect(`127.0.0.1:${own.port}`, { token: h.adminToken });
    try {
      const stalled = stallingBody(10 * MiB);
      const upload = ownClient.upload(stalled.stream, { bucket, objectName: "shutdown/stalled.bin" });
      await until("the stalled upload's multipart upload", hasMultipart("shutdown/stalled.bin"));
      // The upload never ends: close() resolves only because the grace period cancels it.
      const closing = own.close(1);
      await expect(upload).rejects.toBeInstanceOf(StorageClientError);
      await closing;
      await expectNothingLeft("shutdown/stalled.bin");
    } finally {
      ownClient.close();
      await own.close(0);
    }
  });
});
