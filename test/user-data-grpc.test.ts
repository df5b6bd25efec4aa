import { credentials, Metadata, type ServiceError, status } from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { storageProto } from "../src/transports/grpc/definition.ts";
import type { UserDataServiceClient } from "../src/transports/grpc/generated/lumenslate/storage/v1/UserDataService.ts";
import type { UserFile__Output } from "../src/transports/grpc/generated/lumenslate/storage/v1/UserFile.ts";
import type { UserUsage__Output } from "../src/transports/grpc/generated/lumenslate/storage/v1/UserUsage.ts";
import { ERROR_CODE_KEY, ERROR_DETAILS_KEY } from "../src/transports/grpc/status.ts";
import { type GrpcHarness, startGrpc } from "./support/grpc.ts";
import { pe } from "./support/polyglots.ts";

/**
 * UserDataService over a real socket on the shared MinIO: an upload whose header is over the quota
 * is refused (RESOURCE_EXHAUSTED, TOO_LARGE with the remaining allowance) before a chunk is stored,
 * a disguised executable is refused, scoped keys reach only their user, and delete-all leaves
 * nothing under the user's prefix.
 */

let h: GrpcHarness;
let c: UserDataServiceClient;
const run = Date.now().toString(36);

const md = (token: string, userId?: string) => {
  const m = new Metadata();
  m.set("authorization", `Bearer ${token}`);
  if (userId) m.set("x-user-id", userId);
  return m;
};

function upload(userId: string, filename: string, data: Buffer, meta = md(h.adminToken), size = data.length) {
  return new Promise<UserFile__Output>((resolve, reject) => {
    const stream = c.UploadUserFile(meta, (err, res) =>
      err ? reject(err) : resolve(res as UserFile__Output),
    );
    stream.write({ header: { userId, filename, size, contentType: "" } });
    for (let i = 0; i < data.length; i += 64 * 1024) stream.write({ chunk: data.subarray(i, i + 64 * 1024) });
    stream.end();
  });
}

function call<Req, Res>(method: string, req: Req, meta = md(h.adminToken)): Promise<Res> {
  const fn = (c as unknown as Record<string, unknown>)[method] as (
    r: Req,
    m: Metadata,
    cb: (e: ServiceError | null, r?: Res) => void,
  ) => void;
  return new Promise((resolve, reject) =>
    fn.call(c, req, meta, (err, res) => (err ? reject(err) : resolve(res as Res))),
  );
}

async function failure(promise: Promise<unknown>) {
  const err = (await promise.then(
    () => undefined,
    (e: unknown) => e,
  )) as ServiceError | undefined;
  expect(err, "the call succeeded").toBeDefined();
  const details = err?.metadata?.get(ERROR_DETAILS_KEY)[0];
  return {
    status: status[err?.code ?? 0],
    code: err?.metadata?.get(ERROR_CODE_KEY)[0],
    details: typeof details === "string" ? (JSON.parse(details) as Record<string, unknown>) : {},
  };
}

const stored = async (userId: string) =>
  (await h.app.store.list(h.app.config.buckets.userData, { prefix: `users/${userId}/` })).objects;

describe("UserDataService over gRPC", () => {
  beforeAll(async () => {
    h = await startGrpc();
    const { UserDataService } = storageProto().lumenslate.storage.v1;
    c = new UserDataService(h.address, credentials.createInsecure());
  });
  afterAll(async () => {
    c?.close();
    await h?.close();
  });

  it("uploads, lists, downloads and reports usage", async () => {
    const alice = `alice-${run}`;
    const data = Buffer.alloc(200_000, "z");
    const file = await upload(alice, "big.txt", data);
    expect(file.key).toBe(`users/${alice}/${file.uploadId}/big.txt`);
    const list = await call<object, { files: UserFile__Output[] }>("ListUserFiles", { userId: alice });
    expect(list.files.map((f) => f.key)).toEqual([file.key]);
    const body = await new Promise<Buffer>((resolve, reject) => {
      const chunks: Buffer[] = [];
      let first: UserFile__Output | undefined;
      const s = c.DownloadUserFile(
        { userId: alice, uploadId: file.uploadId, filename: "big.txt" },
        md(h.adminToken),
      );
      s.on("data", (m: { file?: UserFile__Output; chunk?: Buffer }) => {
        if (m.file) first = m.file;
        else if (m.chunk) chunks.push(m.chunk);
      });
      s.on("error", reject);
      s.on("end", () => {
        expect(first?.sha256).toBe(file.sha256);
        resolve(Buffer.concat(chunks));
      });
    });
    expect(body.equals(data)).toBe(true);
    const usage = await call<object, UserUsage__Output>("GetUserUsage", { userId: alice });
    expect(usage).toMatchObject({ bytes: data.length, objects: 1, reservedBytes: 0 });
  });

  it("refuses an upload over the quota with RESOURCE_EXHAUSTED and the remaining allowance, storing nothing", async () => {
    const bob = `bob-${run}`;
    await h.app.userData.setQuota(bob, { bytes: 100 });
    const refused = await failure(upload(bob, "a.txt", Buffer.alloc(101, "a")));
    expect(refused).toMatchObject({
      status: "RESOURCE_EXHAUSTED",
      code: "TOO_LARGE",
      details: { quota: "bytes", remainingBytes: 100 },
    });
    expect(await stored(bob)).toEqual([]);
    expect(await h.app.userData.usage(bob)).toMatchObject({ bytes: 0, objects: 0, reservedBytes: 0 });
    // A header that understates the stream is refused too, and its reservation given back.
    const short = await failure(upload(bob, "b.txt", Buffer.alloc(150, "b"), md(h.adminToken), 50));
    expect(short.code).toBe("PRECONDITION_FAILED");
    expect(await stored(bob)).toEqual([]);
    expect(await h.app.userData.usage(bob)).toMatchObject({ bytes: 0, reservedBytes: 0 });
  });

  it("refuses a disguised executable", async () => {
    const carol = `carol-${run}`;
    expect(await failure(upload(carol, "report.pdf", pe()))).toMatchObject({ code: "UNSUPPORTED_TYPE" });
    expect(await stored(carol)).toEqual([]);
  });

  it("confines a key scoped users/{user_id}/ to the bound user", async () => {
    const dave = `dave-${run}`;
    const token = await h.issue("portal", [
      `${h.app.config.buckets.userData}/users/{user_id}/:read,write,list,delete`,
    ]);
    await upload(dave, "ok.txt", Buffer.from("ok"), md(token, dave));
    const denied = await failure(upload(`erin-${run}`, "no.txt", Buffer.from("no"), md(token, dave)));
    expect(denied).toMatchObject({ status: "PERMISSION_DENIED" });
    expect(
      await failure(call("DeleteAllUserFiles", { userId: `erin-${run}` }, md(token, dave))),
    ).toMatchObject({
      status: "PERMISSION_DENIED",
    });
    expect(await stored(`erin-${run}`)).toEqual([]);
  });

  it("deletes everything of a user and reports counts and bytes", async () => {
    const frank = `frank-${run}`;
    for (const n of [1, 2, 3]) await upload(frank, `${n}.txt`, Buffer.alloc(n * 10, "f"));
    const report = await call<object, Record<string, unknown>>("DeleteAllUserFiles", { userId: frank });
    expect(report).toMatchObject({ userId: frank, deletedObjects: 3, deletedBytes: 60, failed: 0 });
    expect(await stored(frank)).toEqual([]);
    expect(await h.app.userData.usage(frank)).toMatchObject({ bytes: 0, objects: 0 });
  });
});
