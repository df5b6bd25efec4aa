import { randomBytes } from "node:crypto";
import { once } from "node:events";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Transform } from "node:stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { StorageClient } from "../packages/client/src/index.ts";
import type { GrpcServer } from "../src/transports/grpc/server.ts";
import type { TestApp } from "./support/app.ts";
import { collect, digestStream, randomSource, sha256Of } from "./support/data.ts";
import { type GrpcHarness, startGrpc } from "./support/grpc.ts";

const MiB = 1024 * 1024;

/** The TypeScript client against a real server on a real socket, with the shared MinIO behind it. */
describe("gRPC transfers (TypeScript client)", () => {
  let h: GrpcHarness;
  let app: TestApp;
  let server: GrpcServer;
  let client: StorageClient;
  let bucket: string;

  beforeAll(async () => {
    h = await startGrpc({ env: { RATE_LIMIT_ENABLED: "false" } });
    ({ app, server, client } = h);
    bucket = app.config.buckets.temp;
  });
  afterAll(async () => {
    await h?.close();
    h?.logs.expectNoSecrets(h.secrets);
  });

  it.each([
    ["0 bytes", 0],
    ["1 byte", 1],
    ["5 MiB", 5 * MiB],
    ["300 MiB", 300 * MiB],
  ])("uploads and downloads %s with equal sha256", async (_label, size) => {
    const objectName = `roundtrip/${size}.bin`;
    const source = randomSource(size);
    const rssBefore = process.memoryUsage().rss;
    let peakRss = rssBefore;
    const sampler = setInterval(() => {
      peakRss = Math.max(peakRss, process.memoryUsage().rss);
    }, 50).unref();
    const stored = await client.upload(source.stream, { bucket, objectName, metadata: { origin: "grpc" } });
    const sha256 = await source.sha256;
    expect(stored).toMatchObject({ success: true, bucket, objectName, size, sha256 });
    expect(stored.etag).not.toBe("");
    expect(stored.versionId).not.toBe("");

    const download = await client.downloadStream({ bucket, objectName, verify: true });
    expect(download.contentLength).toBe(size);
    expect(download.range).toBeUndefined();
    expect(download.file).toMatchObject({ size, sha256, metadata: { origin: "grpc" } });
    expect(await digestStream(download.stream)).toEqual({ sha256, size });
    clearInterval(sampler);
    // Client and server share this process: memory must not grow with the object's size.
    expect(peakRss - rssBefore).toBeLessThan(256 * MiB);
  });

  it("serves byte ranges", async () => {
    const data = Buffer.from("0123456789abcdefghij");
    await client.upload(data, { bucket, objectName: "ranges.txt" });
    const middle = await client.downloadStream({
      bucket,
      objectName: "ranges.txt",
      range: { start: 5, end: 9 },
    });
    expect(middle.range).toEqual({ start: 5, end: 9 });
    expect(middle.contentLength).toBe(5);
    expect(middle.file.size).toBe(20);
    expect((await collect(middle.stream)).toString()).toBe("56789");
    const tail = await client.downloadStream({ bucket, objectName: "ranges.txt", range: { start: 15 } });
    expect((await collect(tail.stream)).toString()).toBe("fghij");
  });

  it("streams a file up and down with uploadFile and downloadToFile", async () => {
    const dir = await mkdtemp(join(tmpdir(), "grpc-files-"));
    try {
      const data = Buffer.alloc(3 * MiB + 17, 7);
      await writeFile(join(dir, "in.bin"), data);
      const stored = await client.uploadFile(join(dir, "in.bin"), { bucket, objectName: "files/in.bin" });
      expect(stored).toMatchObject({ size: data.length, sha256: sha256Of(data) });
      const info = await client.downloadToFile(join(dir, "out.bin"), {
        bucket,
        objectName: "files/in.bin",
        verify: true,
      });
      expect(info.sha256).toBe(sha256Of(data));
      expect((await readFile(join(dir, "out.bin"))).equals(data)).toBe(true);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("lets a slow reader slow the download: the server reads ahead a bounded amount", async () => {
    // An object of its own, well past both bounds below, so the test also runs alone (-t).
    const objectName = "slow-reader/96MiB.bin";
    await client.upload(randomSource(96 * MiB).stream, { bucket, objectName });
    // Count the bytes the server pulls from the store, without changing its flow (a Transform keeps backpressure).
    const original = app.service.download.bind(app.service);
    let pulled = 0;
    let counter: Transform | undefined;
    app.service.download = async (...args) => {
      const got = await original(...args);
      counter = new Transform({
        transform(chunk: Buffer, _encoding, done) {
          pulled += chunk.length;
          done(null, chunk);
        },
      });
      const piped = counter;
      got.body.once("error", (err) => piped.destroy(err));
      return { ...got, body: got.body.pipe(piped) };
    };
    /**
     * Resolves once the server has stopped pulling: the counter's input is full (the store stream
     * waits for a drain) and `pulled` did not move over several turns of this process's event loop,
     * which also runs the server and the client, so nothing downstream could drain it meanwhile.
     */
    const stalled = async () => {
      let quiet = 0;
      let last = -1;
      const deadline = Date.now() + 60_000; // only bounds a hang; the test fails if it is reached
      while (quiet < 5) {
        if (Date.now() > deadline) throw new Error(`the server never stopped reading (${pulled} bytes)`);
        await new Promise((resolve) => setTimeout(resolve, 100));
        quiet = counter?.writableNeedDrain && pulled === last ? quiet + 1 : 0;
        last = pulled;
      }
    };
    try {
      const download = await client.downloadStream({ bucket, objectName });
      await once(download.stream, "readable");
      // The reader stalls: the server must stop after a few MiB of buffers, not read the whole object.
      await stalled();
      expect(pulled).toBeLessThan(32 * MiB);
      // Then it reads a little more, slowly, and gives up: the server stops too.
      let read = 0;
      for await (const chunk of download.stream) {
        read += (chunk as Buffer).length;
        await new Promise((resolve) => setTimeout(resolve, 5));
        if (read >= 8 * MiB) break; // destroys the stream, which cancels the call
      }
      expect(await server.inFlight.drain(10_000)).toBe(true);
      expect(pulled).toBeLessThan(48 * MiB);
    } finally {
      app.service.download = original;
    }
  });

  it("accepts bytes from an async iterable and checks an announced sha256 and size", async () => {
    const parts = [Buffer.from("hello "), Buffer.from("world")];
    const stored = await client.upload(
      (async function* () {
        yield* parts;
      })(),
      { bucket, objectName: "iter.txt", sha256: sha256Of("hello world"), expectedSize: 11 },
    );
    expect(stored.size).toBe(11);
    expect(stored.contentType).toMatch(/^text\/plain/);
    const { stream } = await client.downloadStream({ bucket, objectName: "iter.txt" });
    expect((await collect(stream)).toString()).toBe("hello world");
  });

  it("keeps concurrent downloads apart: each arrives whole, though they share the method's encoder", async () => {
    // The chunk-aware serializer reuses one buffer per method (grpc-js copies each message into its
    // frame at once); interleaved messages of four calls would show any overlap as a wrong sha256.
    const objects = await Promise.all(
      [0, 1, 2, 3].map(async (i) => {
        const data = Buffer.concat([Buffer.from(`object ${i}\n`), randomBytes(6 * MiB + i * 1000)]);
        await client.upload(data, { bucket, objectName: `concurrent/${i}.bin` });
        return { objectName: `concurrent/${i}.bin`, sha256: sha256Of(data), size: data.length };
      }),
    );
    const downloaded = await Promise.all(
      objects.map(async ({ objectName }) => {
        const { stream } = await client.downloadStream({ bucket, objectName, verify: false });
        return digestStream(stream);
      }),
    );
    expect(downloaded).toEqual(objects.map(({ sha256, size }) => ({ sha256, size })));
  });
});
