import { status } from "@grpc/grpc-js";
import { afterAll, expect, inject } from "vitest";
import { connect, type StorageClient, StorageClientError } from "../packages/client/src/index.ts";
import { startGrpcServer } from "../src/transports/grpc/server.ts";
import { type Caller, describeAuthMatrix, type MatrixCalls, type Outcome } from "./support/auth-matrix.ts";
import { collect } from "./support/data.ts";
import { createCapturedApp, LogCapture } from "./support/grpc.ts";

/**
 * The authorization matrix (test/support/auth-matrix.ts) over gRPC, with the TypeScript client on
 * a real socket. No gRPC call needs `admin` on one bucket (AdminService needs it on every bucket,
 * see test/admin-api.test.ts), so the admin column checks that admin implies every other action.
 */

const logs = new LogCapture();

/** A call's outcome: its result, or the refusal the client saw. */
async function outcome(work: () => Promise<Omit<Extract<Outcome, { ok: true }>, "ok">>): Promise<Outcome> {
  try {
    return { ok: true, ...(await work()) };
  } catch (err) {
    if (!(err instanceof StorageClientError)) throw err;
    return { ok: false, code: err.code, status: status[err.grpcCode] ?? "", message: err.message };
  }
}

function grpcCalls(address: string, clients: Map<string, StorageClient>): MatrixCalls {
  // One channel per token; the user id travels per call.
  const client = (caller: Caller) => {
    const id = caller.token ?? "";
    let found = clients.get(id);
    if (!found) {
      found = connect(address, caller.token === undefined ? {} : { token: caller.token });
      clients.set(id, found);
    }
    return found;
  };
  const as = (caller: Caller) => (caller.userId === undefined ? {} : { userId: caller.userId });
  return {
    read: (caller, { bucket, key }) =>
      outcome(async () => {
        const download = await client(caller).downloadStream({ bucket, objectName: key, ...as(caller) });
        return { body: (await collect(download.stream)).toString() };
      }),
    write: (caller, { bucket, key }, body) =>
      outcome(async () => {
        await client(caller).upload(body, { bucket, objectName: key, ...as(caller) });
        return {};
      }),
    delete: (caller, { bucket, key }) =>
      outcome(async () => {
        await client(caller).delete({ bucket, objectName: key }, as(caller));
        return {};
      }),
    list: (caller, bucket, prefix) =>
      outcome(async () => {
        const page = await client(caller).list({ bucket, prefix, recursive: true, ...as(caller) });
        return { keys: page.files.map((f) => f.objectName) };
      }),
    presign: (caller, { bucket, key }) =>
      outcome(async () => {
        const url = await client(caller).getUrl({ bucket, objectName: key, ...as(caller) });
        return { url: url.url };
      }),
    admin: "implied",
  };
}

const matrix = describeAuthMatrix({
  name: "gRPC",
  // gRPC status names are the stable codes for these two.
  statusOf: (code) => code,
  createApp: () => createCapturedApp(logs, { RATE_LIMIT_ENABLED: "false" }),
  async start(app) {
    const server = await startGrpcServer(app, { host: "127.0.0.1", port: 0 });
    const clients = new Map<string, StorageClient>();
    return {
      calls: grpcCalls(`127.0.0.1:${server.port}`, clients),
      close: async () => {
        for (const client of clients.values()) client.close();
        await server.close(1);
      },
    };
  },
});

afterAll(() => {
  // Every call above carried a token in its metadata; none may have reached a log line.
  expect(logs.lines.length).toBeGreaterThan(0);
  logs.expectNoSecrets([...matrix.secrets, inject("minio").secretKey]);
});
