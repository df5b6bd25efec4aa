import { credentials, Metadata, type ServiceError, status } from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { storageProto } from "../src/transports/grpc/definition.ts";
import type { ConfigServiceClient } from "../src/transports/grpc/generated/lumenslate/storage/v1/ConfigService.ts";
import { ERROR_CODE_KEY, ERROR_DETAILS_KEY } from "../src/transports/grpc/status.ts";
import { type GrpcHarness, startGrpc } from "./support/grpc.ts";

/**
 * ConfigService over real sockets on the shared MinIO: a broken document refused with line and
 * column, three versions, diff and rollback, flag evaluation, and scopes on the config bucket per
 * document name (the structural suite covers calls without a key for every method).
 */

let h: GrpcHarness;
let c: ConfigServiceClient;

const auth = (token: string) => {
  const metadata = new Metadata();
  metadata.set("authorization", `Bearer ${token}`);
  return metadata;
};

function call<Res>(method: string, request: object, token = h.adminToken): Promise<Res> {
  const fn = (c as unknown as Record<string, unknown>)[method] as (
    req: object,
    md: Metadata,
    cb: (err: ServiceError | null, res?: Res) => void,
  ) => void;
  return new Promise((resolve, reject) =>
    fn.call(c, request, auth(token), (err, res) => (err ? reject(err) : resolve(res as Res))),
  );
}

async function failure(promise: Promise<unknown>) {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e as ServiceError,
  );
  expect(err, "the call succeeded").toBeDefined();
  const e = err as ServiceError;
  const details = e.metadata?.get(ERROR_DETAILS_KEY)[0];
  return {
    code: status[e.code],
    errorCode: e.metadata?.get(ERROR_CODE_KEY)[0],
    details: typeof details === "string" ? (JSON.parse(details) as Record<string, unknown>) : {},
  };
}

interface Version {
  version: number;
  format: string;
  restoredFrom?: number;
}

const put = (name: string, content: string, format = "DOCUMENT_FORMAT_YAML", token?: string) =>
  call<{ version: Version }>("PutDocument", { name, content, format }, token);

describe("ConfigService over gRPC (MinIO)", () => {
  beforeAll(async () => {
    h = await startGrpc();
    c = new (storageProto().lumenslate.storage.v1.ConfigService)(h.address, credentials.createInsecure());
  });

  afterAll(async () => {
    c?.close();
    await h?.close();
  });

  it("refuses broken YAML with line and column in the details", async () => {
    const f = await failure(put("app/broken", "a: 1\nb: [1, 2\nc: 3\n"));
    expect(f).toMatchObject({ code: "INVALID_ARGUMENT", errorCode: "INVALID_ARGUMENT" });
    expect(f.details).toMatchObject({ line: 3, column: 1 });
    expect(await failure(call("GetHistory", { name: "app/broken" }))).toMatchObject({ code: "NOT_FOUND" });
    expect(await failure(put("app/x", "a: 1", "DOCUMENT_FORMAT_UNSPECIFIED"))).toMatchObject({
      code: "INVALID_ARGUMENT",
    });
  });

  it("keeps three versions, diffs them, and rolls back to the first", async () => {
    await put("app/settings", "retries: 3\n");
    await put("app/settings", "retries: 4\n");
    const v3 = await put("app/settings", '{"retries": 5, "debug": true}', "DOCUMENT_FORMAT_JSON");
    expect(v3.version).toMatchObject({ version: 3, format: "DOCUMENT_FORMAT_JSON" });

    const diff = await call<{ changed: object[]; added: object[] }>("DiffVersions", {
      name: "app/settings",
      from: 1,
      to: 3,
    });
    expect(diff.changed).toEqual([expect.objectContaining({ path: "/retries", fromJson: "3", toJson: "5" })]);
    expect(diff.added).toEqual([expect.objectContaining({ path: "/debug", toJson: "true" })]);
    expect(diff.added[0]).not.toHaveProperty("fromJson");

    const rolled = await call<{ version: Version }>("RollbackDocument", { name: "app/settings", version: 1 });
    expect(rolled.version).toMatchObject({ version: 4, restoredFrom: 1 });
    const doc = await call<{ content: string; valueJson: string; version: Version }>("GetDocument", {
      name: "app/settings",
    });
    expect(doc).toMatchObject({ content: "retries: 3\n", valueJson: '{"retries":3}' });
    const history = await call<{ versions: Version[] }>("GetHistory", { name: "app/settings" });
    expect(history.versions.map((v) => v.version)).toEqual([1, 2, 3, 4]);
  });

  it("evaluates a flag, and a change is seen at once", async () => {
    await put("flags/beta", "enabled: true\nrollout: 0\nallow: [carol]\n");
    const evaluate = (subject: string) =>
      call<{ enabled: boolean; reason: string; version: number }>("EvaluateFlag", { flag: "beta", subject });
    expect(await evaluate("carol")).toMatchObject({ enabled: true, reason: "allowed", version: 1 });
    expect(await evaluate("dave")).toMatchObject({ enabled: false, reason: "not-in-rollout" });
    await put("flags/beta", "enabled: false\n");
    expect(await evaluate("carol")).toMatchObject({ enabled: false, reason: "disabled", version: 2 });
  });

  it("confines a key to its names", async () => {
    const bucket = h.app.config.buckets.config;
    const token = await h.issue("app-svc", [`${bucket}/app/:read,write`]);
    expect((await put("app/limits", "max: 1\n", undefined, token)).version.version).toBe(1);
    expect(await failure(put("other/limits", "max: 1\n", undefined, token))).toMatchObject({
      code: "PERMISSION_DENIED",
    });
    expect(await failure(call("EvaluateFlag", { flag: "beta", subject: "x" }, token))).toMatchObject({
      code: "PERMISSION_DENIED",
    });
  });
});
