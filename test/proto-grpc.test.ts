import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { promisify } from "node:util";
import { credentials, Metadata, type ServiceError, status } from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { storageProto } from "../src/transports/grpc/definition.ts";
import type { ProtoStorageServiceClient } from "../src/transports/grpc/generated/lumenslate/storage/v1/ProtoStorageService.ts";
import type { ProtoVersion__Output } from "../src/transports/grpc/generated/lumenslate/storage/v1/ProtoVersion.ts";
import type { UploadProtoRequest } from "../src/transports/grpc/generated/lumenslate/storage/v1/UploadProtoRequest.ts";
import { ERROR_CODE_KEY, ERROR_DETAILS_KEY } from "../src/transports/grpc/status.ts";
import { uploadableBytes } from "./support/data.ts";
import { type GrpcHarness, startGrpc } from "./support/grpc.ts";
import {
  ADDED_FIELD,
  asFiles,
  BILLING,
  COMMON,
  type ProtoSet,
  V1,
  V1_1,
  V1_1_OTHER,
  V2_BREAKING,
} from "./support/proto-sets.ts";

/**
 * ProtoStorageService over real sockets on the shared MinIO: a two-file set published, listed,
 * served back byte for byte (one file, and the whole version as a .tar.gz), diffed; the
 * breaking-change refusal and its override; immutability; uploaded generated code; and who may do
 * what (the structural suite covers calls without a key for every method).
 */

const SERVICE = "billing";
const sha256 = (data: Buffer | string) => createHash("sha256").update(data).digest("hex");

interface Failure {
  code: string;
  errorCode: string | undefined;
  details: Record<string, unknown>;
  message: string;
}

let h: GrpcHarness;
let tmp: string;

const clients: ProtoStorageServiceClient[] = [];
function client(): ProtoStorageServiceClient {
  const { ProtoStorageService } = storageProto().lumenslate.storage.v1;
  const c = new ProtoStorageService(h.address, credentials.createInsecure());
  clients.push(c);
  return c;
}

const auth = (token: string | undefined) => {
  const metadata = new Metadata();
  if (token) metadata.set("authorization", `Bearer ${token}`);
  return metadata;
};

/** A unary call as a promise; `token` defaults to the admin key, null sends none. */
function unary<Req, Res>(method: string, request: Req, token: string | null = h.adminToken): Promise<Res> {
  const c = client() as unknown as Record<
    string,
    (req: Req, md: Metadata, cb: (err: ServiceError | null, res?: Res) => void) => void
  >;
  return new Promise((resolve, reject) => {
    (c[method] as NonNullable<(typeof c)[string]>).call(c, request, auth(token ?? undefined), (err, res) =>
      err ? reject(err) : resolve(res as Res),
    );
  });
}

/** A server stream's header and the bytes of its chunks. */
function download<Header>(
  method: "DownloadProtoFile" | "DownloadProtoArchive",
  request: Record<string, string>,
  token: string | null = h.adminToken,
): Promise<{ header: Header; body: Buffer }> {
  const c = client();
  const stream = c[method](request, auth(token ?? undefined));
  return new Promise((resolve, reject) => {
    let header: Header | undefined;
    const chunks: Buffer[] = [];
    stream.on("data", (message: { payload?: string; header?: Header; chunk?: Buffer }) => {
      if (message.payload === "header") header = message.header;
      else if (message.chunk) chunks.push(message.chunk);
    });
    stream.on("error", reject);
    stream.on("end", () => resolve({ header: header as Header, body: Buffer.concat(chunks) }));
  });
}

async function failure(promise: Promise<unknown>): Promise<Failure> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e as ServiceError,
  );
  expect(err, "the call succeeded").toBeDefined();
  const e = err as ServiceError;
  const code = e.metadata?.get(ERROR_CODE_KEY)[0];
  const details = e.metadata?.get(ERROR_DETAILS_KEY)[0];
  return {
    code: status[e.code] ?? String(e.code),
    errorCode: typeof code === "string" ? code : undefined,
    details: typeof details === "string" ? (JSON.parse(details) as Record<string, unknown>) : {},
    message: e.details,
  };
}

const publish = (version: string, set: ProtoSet, extra: Partial<UploadProtoRequest> = {}, token?: string) =>
  unary<UploadProtoRequest, { version: ProtoVersion__Output; created: boolean }>(
    "UploadProtoFile",
    { service: SERVICE, version, files: asFiles(set), ...extra },
    token,
  );

const versions = async (service = SERVICE, token?: string | null) =>
  (
    await unary<{ service: string }, { versions: ProtoVersion__Output[] }>(
      "GetProtoVersions",
      { service },
      token,
    )
  ).versions;

async function filesUnder(dir: string): Promise<Map<string, Buffer>> {
  const out = new Map<string, Buffer>();
  for (const entry of await readdir(dir, { recursive: true, withFileTypes: true })) {
    if (entry.isFile()) {
      const path = join(entry.parentPath, entry.name);
      out.set(relative(dir, path), await readFile(path));
    }
  }
  return out;
}

beforeAll(async () => {
  h = await startGrpc({ env: { RATE_LIMIT_ENABLED: "false" } });
  tmp = await mkdtemp(join(tmpdir(), "proto-grpc-"));
});
afterAll(async () => {
  for (const c of clients) c.close();
  await h?.close();
  if (tmp) await rm(tmp, { recursive: true, force: true });
  h?.logs.expectNoSecrets([...(h?.secrets ?? []), inject("minio").secretKey]);
});

describe("ProtoStorageService", () => {
  it("publishes a two-file set with an import and serves each file back byte for byte", async () => {
    const published = await publish("1.0.0", V1);
    expect(published.created).toBe(true);
    expect(published.version).toMatchObject({
      service: SERVICE,
      version: "1.0.0",
      uploader: "test-admin",
      breakingOverridden: false,
    });
    expect(published.version.files).toEqual(
      [COMMON, BILLING].sort().map((filename) => ({
        filename,
        size: Buffer.byteLength(V1[filename] as string),
        sha256: sha256(V1[filename] as string),
      })),
    );
    for (const version of ["1.0.0", "latest"]) {
      for (const filename of [COMMON, BILLING]) {
        const { header, body } = await download<{ version: string; file: { sha256: string } }>(
          "DownloadProtoFile",
          { service: SERVICE, version, filename },
        );
        expect(body.equals(Buffer.from(V1[filename] as string))).toBe(true);
        expect(header).toMatchObject({ version: "1.0.0", file: { filename, sha256: sha256(body) } });
      }
    }
    const audit = await h.app.security.audit.query({ bucket: h.app.config.buckets.protoFiles });
    expect(audit).toContainEqual(
      expect.objectContaining({ action: "protos.publish", result: "OK", key: `${SERVICE}/1.0.0/` }),
    );
  });

  it("accepts a field added, reports it in the diff, and lists versions by semver", async () => {
    expect((await publish("1.1.0", V1_1)).created).toBe(true);
    const diff = await unary<object, Record<string, { fields: string[]; messages: string[] }>>(
      "DiffProtoVersions",
      { service: SERVICE, from: "1.0.0", to: "1.1.0" },
    );
    expect(diff).toMatchObject({ from: "1.0.0", to: "1.1.0" });
    expect(diff.added?.fields).toEqual([ADDED_FIELD]);
    expect(diff.removed).toEqual({ messages: [], services: [], fields: [] });

    // Published out of order, and 1.10.0 sorts after 1.9.0 (not as text).
    const other = "sorting";
    for (const version of ["1.10.0", "1.9.0", "1.0.0"]) {
      await unary("UploadProtoFile", { service: other, version, files: asFiles(V1) });
    }
    expect((await versions(other)).map((v) => v.version)).toEqual(["1.0.0", "1.9.0", "1.10.0"]);
    expect((await versions()).map((v) => v.version)).toEqual(["1.0.0", "1.1.0"]);
  });

  it("refuses a breaking change with its violations, and accepts it with the override, recorded", async () => {
    const refused = await failure(publish("2.0.0", V2_BREAKING));
    expect(refused).toMatchObject({ code: "FAILED_PRECONDITION", errorCode: "PRECONDITION_FAILED" });
    expect(JSON.stringify(refused.details.violations)).toMatch(/id/);
    expect((await versions()).map((v) => v.version)).toEqual(["1.0.0", "1.1.0"]);

    const forced = await publish("2.0.0", V2_BREAKING, { allowBreaking: true });
    expect(forced.created).toBe(true);
    expect(forced.version.breakingOverridden).toBe(true);
    expect(forced.version.breakingViolations.join("\n")).toMatch(/id/);
    const listed = (await versions()).find((v) => v.version === "2.0.0");
    expect(listed).toMatchObject({ breakingOverridden: true, digest: forced.version.digest });
  });

  it("keeps versions immutable: the same files again are no change, other files ALREADY_EXISTS", async () => {
    const before = (await versions()).find((v) => v.version === "1.1.0");
    const again = await publish("1.1.0", V1_1);
    expect(again.created).toBe(false);
    expect(again.version.digest).toBe(before?.digest);
    expect(await failure(publish("1.1.0", V1_1_OTHER))).toMatchObject({
      code: "ALREADY_EXISTS",
      errorCode: "ALREADY_EXISTS",
    });
    const { body } = await download("DownloadProtoFile", {
      service: SERVICE,
      version: "1.1.0",
      filename: COMMON,
    });
    expect(body.toString()).toBe(V1_1[COMMON]);
  });

  it("serves a version as a .tar.gz that unpacks to its files", async () => {
    const { header, body } = await download<{ version: string; filename: string }>("DownloadProtoArchive", {
      service: SERVICE,
      version: "1.1.0",
    });
    expect(header).toMatchObject({ version: "1.1.0", filename: `${SERVICE}-1.1.0.tar.gz` });
    const archive = join(tmp, header.filename);
    await writeFile(archive, body);
    const out = await mkdtemp(join(tmp, "unpacked-"));
    await promisify(execFile)("tar", ["-xzf", archive, "-C", out]);
    const unpacked = await filesUnder(out);
    for (const filename of [COMMON, BILLING]) {
      const path = [...unpacked.keys()].find((p) => p === filename || p.endsWith(`/${filename}`));
      expect(path, `${filename} in the archive`).toBeDefined();
      expect(unpacked.get(path as string)?.toString()).toBe(V1_1[filename]);
    }
  });

  it("stores uploaded generated code as is in the grpc-services bucket, with its sha256", async () => {
    const code = uploadableBytes(300 * 1024);
    const response = await new Promise<{ bucket: string; objectName: string; size: number; sha256: string }>(
      (resolve, reject) => {
        const call = client().UploadGeneratedCode(auth(h.adminToken), (err, res) =>
          err ? reject(err) : resolve(res as never),
        );
        call.write({
          header: {
            service: SERVICE,
            version: "1.0.0",
            language: "go",
            filename: "billing/v1/billing.pb.go",
          },
        });
        for (let at = 0; at < code.length; at += 64 * 1024)
          call.write({ chunk: code.subarray(at, at + 64 * 1024) });
        call.end();
      },
    );
    const { grpcServices } = h.app.config.buckets;
    expect(response).toEqual({
      bucket: grpcServices,
      objectName: `${SERVICE}/1.0.0/go/billing/v1/billing.pb.go`,
      size: code.length,
      sha256: sha256(code),
    });
    const stored = await h.app.service.stat(grpcServices, response.objectName);
    expect(stored).toMatchObject({ size: code.length, sha256: sha256(code) });
  });

  it("lists services and a version's definitions", async () => {
    const { services } = await unary<object, { services: string[] }>("ListProtoServices", {});
    expect(services).toEqual(expect.arrayContaining([SERVICE, "sorting"]));
    const defs = await unary<object, { version: string; messages: string[]; services: { name: string }[] }>(
      "GetProtoDefinitions",
      { service: SERVICE, version: "latest" },
    );
    expect(defs.version).toBe("2.0.0");
    expect(defs.messages).toEqual(
      expect.arrayContaining(["acme.billing.v1.Invoice", "acme.common.v1.Money"]),
    );
    expect(defs.services.map((s) => s.name)).toContain("acme.billing.v1.BillingService");
  });

  it("refuses keys scoped elsewhere (PERMISSION_DENIED) and calls without a key (UNAUTHENTICATED), writing nothing", async () => {
    const { protoFiles, grpcServices } = h.app.config.buckets;
    const stranger = await h.issue("stranger", [
      `${protoFiles}/other/:read,write,list`,
      `${grpcServices}/other/:write`,
    ]);
    const reader = await h.issue("billing-reader", [`${protoFiles}/${SERVICE}/:read`]);
    const denied = { code: "PERMISSION_DENIED", errorCode: "PERMISSION_DENIED" };

    expect(await failure(publish("3.0.0", V1_1, {}, stranger))).toMatchObject(denied);
    expect(await failure(publish("3.0.0", V1_1, {}, reader))).toMatchObject(denied);
    expect(await failure(versions(SERVICE, stranger))).toMatchObject(denied);
    expect(
      await failure(
        download("DownloadProtoFile", { service: SERVICE, version: "1.0.0", filename: COMMON }, stranger),
      ),
    ).toMatchObject(denied);
    expect(
      await failure(download("DownloadProtoArchive", { service: SERVICE, version: "1.0.0" }, stranger)),
    ).toMatchObject(denied);
    expect(
      await failure(unary("DiffProtoVersions", { service: SERVICE, from: "1.0.0", to: "1.1.0" }, stranger)),
    ).toMatchObject(denied);
    // Listing every service's name needs the whole bucket, which a prefix-scoped key lacks.
    expect(await failure(unary("ListProtoServices", {}, reader))).toMatchObject(denied);

    expect(await failure(publish("3.0.0", V1_1, {}, null as never))).toMatchObject({
      code: "UNAUTHENTICATED",
      errorCode: "UNAUTHENTICATED",
    });
    expect(await failure(versions(SERVICE, null))).toMatchObject({ code: "UNAUTHENTICATED" });

    // The reader may read what it is scoped to.
    expect((await versions(SERVICE, reader)).map((v) => v.version)).toEqual(["1.0.0", "1.1.0", "2.0.0"]);
    const audit = await h.app.security.audit.query({ bucket: protoFiles });
    expect(audit).toContainEqual(
      expect.objectContaining({ action: "protos.publish", result: "PERMISSION_DENIED", service: "stranger" }),
    );
  });

  it("refuses bad requests before the registry: no service, an unknown language", async () => {
    expect(await failure(unary("GetProtoVersions", { service: "" }))).toMatchObject({
      code: "INVALID_ARGUMENT",
      details: { field: "service" },
    });
    expect(await failure(publish("3.0.0", V1_1, { generate: ["cobol"] }))).toMatchObject({
      code: "INVALID_ARGUMENT",
      details: { field: "generate" },
    });
    expect((await versions()).map((v) => v.version)).not.toContain("3.0.0");
  });
});
