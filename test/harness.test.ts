import { connect } from "node:net";
import {
  CreateBucketCommand,
  GetObjectCommand,
  ListBucketsCommand,
  PutObjectCommand,
  S3Client,
} from "@aws-sdk/client-s3";
import { afterAll, describe, expect, inject, it } from "vitest";
import { randomBucketPrefix } from "./support/config.ts";
import { type MinioServer, startMinio } from "./support/minio.ts";

function clientFor(server: { endpoint: string; accessKey: string; secretKey: string }): S3Client {
  return new S3Client({
    endpoint: server.endpoint,
    region: "us-east-1",
    forcePathStyle: true,
    credentials: { accessKeyId: server.accessKey, secretAccessKey: server.secretKey },
    maxAttempts: 1,
  });
}

/** Resolves true if something accepts a TCP connection on the port, false if it is refused. */
function accepts(port: number): Promise<boolean> {
  return new Promise((done) => {
    const socket = connect(port, "127.0.0.1");
    socket.once("connect", () => {
      socket.destroy();
      done(true);
    });
    socket.once("error", () => done(false));
  });
}

describe("shared MinIO from globalSetup", () => {
  it("answers ListBuckets", async () => {
    const client = clientFor(inject("minio"));
    const result = await client.send(new ListBucketsCommand({}));
    expect(result.$metadata.httpStatusCode).toBe(200);
    expect(Array.isArray(result.Buckets ?? [])).toBe(true);
    client.destroy();
  });
});

describe("private MinIO", () => {
  let server: MinioServer | undefined;

  afterAll(async () => {
    await server?.destroy();
  });

  it("survives SIGKILL and restarts on the same port with its data", async () => {
    server = await startMinio();
    expect(server.endpoint).toBe(`http://127.0.0.1:${server.port}`);
    const bucket = `${randomBucketPrefix()}harness`;
    const body = `kept across a crash ${Date.now()}`;

    const before = clientFor(server);
    await before.send(new CreateBucketCommand({ Bucket: bucket }));
    await before.send(new PutObjectCommand({ Bucket: bucket, Key: "a/b.txt", Body: body }));
    before.destroy();

    await server.kill();
    expect(await accepts(server.port)).toBe(false);
    const down = clientFor(server);
    await expect(down.send(new ListBucketsCommand({}))).rejects.toThrow();
    down.destroy();

    await server.start();
    const after = clientFor(server);
    const object = await after.send(new GetObjectCommand({ Bucket: bucket, Key: "a/b.txt" }));
    expect(await object.Body?.transformToString()).toBe(body);
    after.destroy();

    await server.stop();
    expect(await accepts(server.port)).toBe(false);
  });
});
