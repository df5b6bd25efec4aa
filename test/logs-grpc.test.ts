import { randomBytes } from "node:crypto";
import { credentials, Metadata, type ServiceError, status } from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { storageProto } from "../src/transports/grpc/definition.ts";
import type { LogStorageServiceClient } from "../src/transports/grpc/generated/lumenslate/storage/v1/LogStorageService.ts";
import { ERROR_CODE_KEY } from "../src/transports/grpc/status.ts";
import { type GrpcHarness, startGrpc } from "./support/grpc.ts";

/**
 * LogStorageService over real sockets on the shared MinIO: upload, batched append, a day's lines
 * streamed back in order with a filter, compaction, rotation (dry run by default), refusals and
 * scopes on the service's prefix.
 */

let h: GrpcHarness;
let client: LogStorageServiceClient;
const uniq = (name: string) => `${name}-${randomBytes(3).toString("hex")}`;

const auth = (token: string) => {
  const metadata = new Metadata();
  metadata.set("authorization", `Bearer ${token}`);
  return metadata;
};

/** A unary call as a promise. */
function call<Req, Res>(method: keyof LogStorageServiceClient, req: Req, token = h.adminToken): Promise<Res> {
  const fn = (
    client[method] as unknown as (r: Req, m: Metadata, cb: (e: ServiceError | null, r?: Res) => void) => void
  ).bind(client);
  return new Promise((resolve, reject) =>
    fn(req, auth(token), (err, res) => (err ? reject(err) : resolve(res as Res))),
  );
}

function readDay(req: Record<string, string>, token = h.adminToken): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const lines: string[] = [];
    const stream = client.GetLogsByDate(req, auth(token));
    stream.on("data", (m: { lines: string[] }) => lines.push(...m.lines));
    stream.on("error", reject);
    stream.on("end", () => resolve(lines));
  });
}

async function refusal(promise: Promise<unknown>) {
  const err = (await promise.then(
    () => undefined,
    (e: unknown) => e,
  )) as ServiceError | undefined;
  expect(err, "the call succeeded").toBeDefined();
  return {
    code: status[(err as ServiceError).code],
    errorCode: (err as ServiceError).metadata.get(ERROR_CODE_KEY)[0],
  };
}

beforeAll(async () => {
  h = await startGrpc({ env: { RATE_LIMIT_ENABLED: "false", LOG_STORAGE_FLUSH_INTERVAL: "1h" } });
  const Ctor = storageProto().lumenslate.storage.v1.LogStorageService;
  client = new Ctor(h.address, credentials.createInsecure());
});

afterAll(async () => {
  client?.close();
  await h?.close();
});

describe("LogStorageService (gRPC)", () => {
  it("uploads, appends, streams a day back in order with a filter, and compacts", async () => {
    const svc = uniq("payments");
    const up = await call<object, { file: { objectName: string } }>("UploadLogFile", {
      serviceName: svc,
      date: "2026-12-03",
      hour: "7",
      logContent: Buffer.from("a\nb WARN\n"),
    });
    expect(up.file.objectName).toMatch(new RegExp(`^${svc}/2026-12-03/07/_parts/app/`));
    const appended = await call<object, { file: object; accepted: number }>("AppendLogs", {
      serviceName: svc,
      date: "2026-12-03",
      hour: "08",
      lines: ["c", "d WARN"],
    });
    expect(appended).toMatchObject({
      accepted: 2,
      file: { serviceName: svc, date: "2026-12-03", hour: "08", filename: "app" },
    });
    await h.app.logArchive.flush();

    expect(await readDay({ serviceName: svc, date: "2026-12-03" })).toEqual(["a", "b WARN", "c", "d WARN"]);
    expect(await readDay({ serviceName: svc, date: "2026-12-03", contains: "WARN", toHour: "07" })).toEqual([
      "b WARN",
    ]);

    const compacted = await call<object, object>("CompactLogs", {
      serviceName: svc,
      date: "2026-12-03",
      hour: "08",
    });
    expect(compacted).toMatchObject({ objects: 1, parts: 1, conflicts: 0 });
    const listed = await call<object, { objects: Array<{ hour: string; part: boolean }> }>("ListLogObjects", {
      serviceName: svc,
      date: "2026-12-03",
    });
    expect(listed.objects.map((o) => [o.hour, o.part])).toEqual([
      ["07", true],
      ["08", false],
    ]);
    expect(await readDay({ serviceName: svc, date: "2026-12-03" })).toEqual(["a", "b WARN", "c", "d WARN"]);
  });

  it("rotates by the log's date, reporting before it deletes", async () => {
    const svc = uniq("rotate");
    const old = new Date(Date.now() - 31 * 86_400_000).toISOString().slice(0, 10);
    await call("UploadLogFile", { serviceName: svc, date: old, hour: "1", logContent: Buffer.from("old\n") });
    const dry = await call<object, Record<string, unknown>>("RotateLogs", {
      serviceName: svc,
      retentionDays: 30,
    });
    expect(dry).toMatchObject({ dryRun: true, objects: 1, deleted: 0 });
    expect(await readDay({ serviceName: svc, date: old })).toEqual(["old"]);
    const done = await call<object, Record<string, unknown>>("RotateLogs", {
      serviceName: svc,
      retentionDays: 30,
      dryRun: false,
    });
    expect(done).toMatchObject({ dryRun: false, objects: 1, deleted: 1, failed: 0 });
    expect(await readDay({ serviceName: svc, date: old })).toEqual([]);
  });

  it("refuses bad input and callers outside their service's prefix", async () => {
    const svc = uniq("scoped");
    expect(
      await refusal(
        call("UploadLogFile", {
          serviceName: svc,
          date: "2026-12-03",
          hour: "25",
          logContent: Buffer.from("x"),
        }),
      ),
    ).toEqual({ code: "INVALID_ARGUMENT", errorCode: "INVALID_ARGUMENT" });
    expect(await refusal(call("AppendLogs", { serviceName: svc, lines: [] }))).toMatchObject({
      code: "INVALID_ARGUMENT",
    });
    expect(await refusal(readDay({ serviceName: svc, date: "2026-12-03", regex: "[" }))).toMatchObject({
      code: "INVALID_ARGUMENT",
    });

    const token = await h.issue("shipper", [`${h.app.config.buckets.logs}/${svc}/:write`]);
    await call("AppendLogs", { serviceName: svc, lines: ["mine"] }, token);
    expect(
      await refusal(call("AppendLogs", { serviceName: uniq("other"), lines: ["x"] }, token)),
    ).toMatchObject({
      code: "PERMISSION_DENIED",
    });
    expect(await refusal(readDay({ serviceName: svc, date: "2026-12-03" }, token))).toMatchObject({
      code: "PERMISSION_DENIED",
    });
    expect(await refusal(call("RotateLogs", { serviceName: svc }, token))).toMatchObject({
      code: "PERMISSION_DENIED",
    });
  });
});
