import { createReadStream } from "node:fs";
import { Agent, request } from "node:http";
import { type Readable, Writable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { GetObjectCommand, PutObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import { Upload } from "@aws-sdk/lib-storage";
import { connect } from "../packages/client/src/index.ts";
import type { loadConfig } from "../src/config/config.ts";
import { CONCURRENCY } from "./small-objects.ts";
import type { Server } from "./transports.ts";

/**
 * The Node clients of the transport benchmark, one shape for all three: the direct S3 client
 * (AWS SDK v3, the service's own createS3Client settings), the service over HTTP (node:http with a
 * keep-alive agent) and over gRPC (the TypeScript client package). Every read drains into a
 * discarding sink; every failure rejects, so a benchmark never counts refused requests as done.
 */

const MiB = 1024 * 1024;

export class Discard extends Writable {
  bytes = 0;
  override _write(chunk: Buffer, _e: BufferEncoding, cb: (err?: Error | null) => void): void {
    this.bytes += chunk.length;
    cb();
  }
}

export interface NodeClient {
  put(key: string, data: Buffer): Promise<unknown>;
  get(key: string): Promise<unknown>;
  upFile(key: string, file: string, size: number): Promise<unknown>;
}

export type Clients = Record<"direct" | "http" | "grpc", NodeClient> & { close(): void };

export function clients(server: Server, s3: S3Client, config: ReturnType<typeof loadConfig>): Clients {
  const agent = new Agent({ keepAlive: true, maxSockets: CONCURRENCY });
  const grpc = connect(`127.0.0.1:${server.grpcPort}`, { token: server.token });
  const { bucket } = server;
  const path = (key: string) => `/v1/buckets/${bucket}/objects/${key}`;
  const auth = { authorization: `Bearer ${server.token}` };
  const multipart = config.storage.multipart;

  const http = (method: "PUT" | "GET", key: string, body?: Readable | Buffer, size?: number) =>
    new Promise<number>((resolve, reject) => {
      const headers =
        method === "PUT"
          ? { ...auth, "content-type": "application/octet-stream", "content-length": size }
          : auth;
      const req = request(
        { host: "127.0.0.1", port: server.httpPort, method, path: path(key), agent, headers },
        (res) => {
          const expected = method === "PUT" ? 201 : 200;
          const sink = new Discard();
          pipeline(res, sink).then(
            () =>
              res.statusCode === expected ? resolve(sink.bytes) : reject(new Error(`HTTP ${res.statusCode}`)),
            reject,
          );
        },
      );
      req.once("error", reject);
      if (body === undefined || Buffer.isBuffer(body)) req.end(body);
      else pipeline(body, req).catch(reject);
    });

  const s3Get = async (key: string) => {
    const out = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    await pipeline(out.Body as Readable, new Discard());
  };
  const grpcGet = async (key: string) => {
    const d = await grpc.downloadStream({ bucket, objectName: key });
    await pipeline(d.stream, new Discard());
  };

  return {
    direct: {
      put: (key, data) => s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: data })),
      get: s3Get,
      upFile: (key, file) =>
        new Upload({
          client: s3,
          params: { Bucket: bucket, Key: key, Body: createReadStream(file, { highWaterMark: MiB }) },
          partSize: multipart.partSize,
          queueSize: multipart.concurrency,
        }).done(),
    },
    http: {
      put: (key, data) => http("PUT", key, data, data.length),
      get: (key) => http("GET", key),
      upFile: (key, file, size) => http("PUT", key, createReadStream(file, { highWaterMark: MiB }), size),
    },
    grpc: {
      put: (key, data) => grpc.upload(data, { bucket, objectName: key }),
      get: grpcGet,
      upFile: (key, file) => grpc.uploadFile(file, { bucket, objectName: key }),
    },
    close: () => {
      grpc.close();
      agent.destroy();
    },
  };
}
