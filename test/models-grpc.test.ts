import { createHash, randomBytes } from "node:crypto";
import { credentials, Metadata, type ServiceError, status } from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { storageProto } from "../src/transports/grpc/definition.ts";
import type { CollectGarbageResponse__Output } from "../src/transports/grpc/generated/lumenslate/storage/v1/CollectGarbageResponse.ts";
import type { ListModelsRequest } from "../src/transports/grpc/generated/lumenslate/storage/v1/ListModelsRequest.ts";
import type { ListModelsResponse__Output } from "../src/transports/grpc/generated/lumenslate/storage/v1/ListModelsResponse.ts";
import type { ModelDownloadHeader__Output } from "../src/transports/grpc/generated/lumenslate/storage/v1/ModelDownloadHeader.ts";
import type { ModelPushHeader } from "../src/transports/grpc/generated/lumenslate/storage/v1/ModelPushHeader.ts";
import type { ModelStorageServiceClient } from "../src/transports/grpc/generated/lumenslate/storage/v1/ModelStorageService.ts";
import type { ModelVersion__Output } from "../src/transports/grpc/generated/lumenslate/storage/v1/ModelVersion.ts";
import { ERROR_CODE_KEY, ERROR_DETAILS_KEY } from "../src/transports/grpc/status.ts";
import { uploadableBytes } from "./support/data.ts";
import { type GrpcHarness, startGrpc } from "./support/grpc.ts";

/**
 * ModelStorageService over real sockets on the shared MinIO: a push stores each file once by
 * sha256 (a second version sharing two of three files adds one blob), PublishModel references
 * stored blobs, aliases resolve anywhere a version is read, downloads carry the sha256 first and
 * the exact bytes after, listings filter and page, a version an alias names is deleted only when
 * forced, gc frees exactly the unreferenced blobs; keys without the scope and bad names are refused
 * before anything is stored.
 */

let h: GrpcHarness;
let client: ModelStorageServiceClient;
let bucket: string;
/** Model types of this run: the registry's database may be shared with other suites. */
const run = randomBytes(3).toString("hex");
const TYPE = `clf-${run}`;

const auth = (token: string) => {
  const metadata = new Metadata();
  metadata.set("authorization", `Bearer ${token}`);
  return metadata;
};

const sha = (b: Buffer) => createHash("sha256").update(b).digest("hex");

type Unary = (req: object, md: Metadata, cb: (err: ServiceError | null, res?: unknown) => void) => void;

function unary<T>(
  method: keyof ModelStorageServiceClient,
  request: object,
  token = h.adminToken,
): Promise<T> {
  const fn = client[method] as unknown as Unary;
  return new Promise((resolve, reject) =>
    fn.call(client, request, auth(token), (err, res) => (err ? reject(err) : resolve(res as T))),
  );
}

interface PushFile {
  path: string;
  body?: Buffer;
  size?: number;
  sha256?: string;
}

/** Header, then per file its header and its bytes in 64 KiB chunks. */
function push(header: ModelPushHeader, files: PushFile[], token = h.adminToken) {
  return new Promise<ModelVersion__Output>((resolve, reject) => {
    const call = client.PushModel(auth(token), (err, res) => (err ? reject(err) : resolve(res as never)));
    call.write({ header });
    for (const f of files) {
      call.write({
        file: {
          path: f.path,
          ...(f.size !== undefined ? { size: f.size } : {}),
          ...(f.sha256 !== undefined ? { sha256: f.sha256 } : {}),
        },
      });
      const body = f.body ?? Buffer.alloc(0);
      for (let at = 0; at < body.length; at += 64 * 1024)
        call.write({ chunk: body.subarray(at, at + 64 * 1024) });
    }
    call.end();
  });
}

/** What a DownloadModelFile call delivered: its header, its bytes, and the error it ended with. */
function receive(modelType: string, ref: string, path: string) {
  return new Promise<{ header?: ModelDownloadHeader__Output; body: Buffer; error?: ServiceError }>(
    (resolve) => {
      const stream = client.DownloadModelFile({ modelType, ref, path }, auth(h.adminToken));
      let header: ModelDownloadHeader__Output | undefined;
      const chunks: Buffer[] = [];
      stream.on("data", (m: { payload?: string; header?: ModelDownloadHeader__Output; chunk?: Buffer }) => {
        if (m.payload === "header") header = m.header;
        else if (m.chunk) chunks.push(m.chunk);
      });
      const done = (error?: ServiceError) =>
        resolve({ ...(header ? { header } : {}), body: Buffer.concat(chunks), ...(error ? { error } : {}) });
      stream.on("error", done);
      stream.on("end", () => done());
    },
  );
}

async function download(modelType: string, ref: string, path: string) {
  const got = await receive(modelType, ref, path);
  if (got.error) throw got.error;
  return { header: got.header as ModelDownloadHeader__Output, body: got.body };
}

async function refusal(promise: Promise<unknown>) {
  const err = (await promise.then(
    () => undefined,
    (e: unknown) => e,
  )) as ServiceError | undefined;
  expect(err, "the call succeeded").toBeDefined();
  const e = err as ServiceError;
  return {
    code: status[e.code],
    errorCode: e.metadata.get(ERROR_CODE_KEY)[0],
    details: JSON.parse(String(e.metadata.get(ERROR_DETAILS_KEY)[0] ?? "{}")) as Record<string, unknown>,
    message: e.details,
  };
}

const MiB = 1024 * 1024;

/** Staged (not yet named) uploads in the bucket now. */
async function stagedKeys(): Promise<string[]> {
  const page = await h.app.service.list(bucket, { prefix: "staging/", recursive: true, limit: 1000 });
  return page.objects.map((o) => o.key).sort();
}

/** Polls `check` until it holds (or fails the test after 10 s). */
async function until(check: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error("timed out waiting for the push to reach the store");
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** Blob keys in the bucket now. */
async function blobKeys(): Promise<string[]> {
  const page = await h.app.service.list(bucket, { prefix: "blobs/sha256/", recursive: true, limit: 1000 });
  return page.objects.map((o) => o.key).sort();
}

const list = (req: ListModelsRequest) => unary<ListModelsResponse__Output>("ListModels", req);
const gc = (dryRun: boolean, token = h.adminToken) =>
  unary<CollectGarbageResponse__Output>("CollectGarbage", { dryRun, graceSeconds: 0 }, token);

const weights = uploadableBytes(300 * 1024);
const config = Buffer.from(JSON.stringify({ layers: 12, hidden: 768, run }));
const vocab = uploadableBytes(70 * 1024);
const weights2 = uploadableBytes(200 * 1024);

beforeAll(async () => {
  h = await startGrpc({ env: { RATE_LIMIT_ENABLED: "false" } });
  bucket = h.app.config.buckets.modelArtifacts;
  const { ModelStorageService } = storageProto().lumenslate.storage.v1;
  client = new ModelStorageService(h.address, credentials.createInsecure());
});
afterAll(async () => {
  client?.close();
  await h?.close();
});

describe("ModelStorageService", () => {
  it("pushes v1 with three files, and v2 sharing two of them adds only the changed file's blob", async () => {
    const before = await blobKeys();
    const v1 = await push(
      {
        modelType: TYPE,
        version: "1.0.0",
        metadata: {
          framework: "pytorch",
          tags: ["nlp"],
          metrics: { accuracy: 0.91 },
          extra: { team: "search" },
        },
      },
      [
        { path: "weights/model.bin", body: weights },
        { path: "config.json", body: config, size: config.length, sha256: sha(config) },
        { path: "vocab.txt", body: vocab },
      ],
    );
    expect(v1).toMatchObject({ modelType: TYPE, version: "1.0.0", uploader: "test-admin" });
    expect(v1.aliases).toContain("latest");
    expect(v1.metadata).toMatchObject({ framework: "pytorch", tags: ["nlp"], metrics: { accuracy: 0.91 } });
    expect(v1.files.map((f) => [f.path, f.size, f.sha256]).sort()).toEqual(
      [
        ["config.json", config.length, sha(config)],
        ["vocab.txt", vocab.length, sha(vocab)],
        ["weights/model.bin", weights.length, sha(weights)],
      ].sort(),
    );
    const afterV1 = await blobKeys();
    expect(afterV1.length - before.length).toBe(3);

    const v2 = await push(
      { modelType: TYPE, version: "2.0.0", metadata: { tags: ["nlp", "large"], parentVersion: "1.0.0" } },
      [
        { path: "weights/model.bin", body: weights2 },
        { path: "config.json", body: config },
        { path: "vocab.txt", body: vocab },
      ],
    );
    expect(v2.metadata?.parentVersion).toBe("1.0.0");
    const afterV2 = await blobKeys();
    expect(afterV2.filter((k) => !afterV1.includes(k))).toEqual([`blobs/sha256/${sha(weights2)}`]);
    expect(v2.aliases).toContain("latest");
    expect(
      (await unary<ModelVersion__Output>("GetModel", { modelType: TYPE, ref: "1.0.0" })).aliases,
    ).not.toContain("latest");
  });

  it("refuses to push a version that exists, and a file whose declared sha256 is wrong, publishing nothing", async () => {
    const again = await refusal(
      push({ modelType: TYPE, version: "1.0.0" }, [{ path: "x.bin", body: randomBytes(10) }]),
    );
    expect(again).toMatchObject({ code: "ALREADY_EXISTS", errorCode: "ALREADY_EXISTS" });

    const body = uploadableBytes(1000);
    const wrong = await refusal(
      push({ modelType: TYPE, version: "9.9.9" }, [
        { path: "w.bin", body, sha256: sha(Buffer.from("other")) },
      ]),
    );
    expect(wrong).toMatchObject({ code: "FAILED_PRECONDITION", errorCode: "PRECONDITION_FAILED" });
    expect(await refusal(unary("GetModel", { modelType: TYPE, ref: "9.9.9" }))).toMatchObject({
      code: "NOT_FOUND",
    });
    expect(await blobKeys()).not.toContain(`blobs/sha256/${sha(body)}`);
  });

  it("publishes a manifest of stored blobs, and refuses one naming a blob that is not stored", async () => {
    const v3 = await unary<ModelVersion__Output>("PublishModel", {
      modelType: TYPE,
      version: "3.0.0",
      files: [
        { path: "weights/model.bin", sha256: sha(weights2) },
        { path: "config.json", sha256: sha(config) },
      ],
      metadata: { description: "republished", extra: { team: "ranking" } },
    });
    expect(v3.files.map((f) => f.size).sort()).toEqual([config.length, weights2.length].sort());

    const missing = randomBytes(32).toString("hex");
    const refused = await refusal(
      unary("PublishModel", {
        modelType: TYPE,
        version: "3.1.0",
        files: [{ path: "a.bin", sha256: missing }],
      }),
    );
    expect(refused).toMatchObject({ code: "FAILED_PRECONDITION", details: { sha256: missing } });
  });

  it("sets an alias that GetModel and DownloadModelFile resolve; the download carries the sha256 and the bytes", async () => {
    const alias = await unary("SetModelAlias", { modelType: TYPE, alias: "production", version: "1.0.0" });
    expect(alias).toEqual({ modelType: TYPE, alias: "production", version: "1.0.0" });
    const prod = await unary<ModelVersion__Output>("GetModel", { modelType: TYPE, ref: "production" });
    expect(prod).toMatchObject({ version: "1.0.0" });
    expect(prod.aliases).toContain("production");
    expect((await unary<ModelVersion__Output>("GetModel", { modelType: TYPE, ref: "latest" })).version).toBe(
      "3.0.0",
    );

    const got = await download(TYPE, "production", "weights/model.bin");
    expect(got.header).toMatchObject({ modelType: TYPE, version: "1.0.0" });
    expect(got.header.file).toMatchObject({
      path: "weights/model.bin",
      size: weights.length,
      sha256: sha(weights),
    });
    expect(sha(got.body)).toBe(sha(weights));

    expect(await refusal(download(TYPE, "production", "nope.bin"))).toMatchObject({ code: "NOT_FOUND" });
  });

  it("ends a download whose stored bytes fail the sha256 check with DATA_LOSS, after the header", async () => {
    const big = uploadableBytes(3 * 1024 * 1024 + 17);
    await push({ modelType: `bad-${run}`, version: "1.0.0" }, [{ path: "w.bin", body: big }]);
    // The index row now claims other bytes than the bucket holds (the object itself untouched).
    const updated = await h.app.db
      .updateTable("object_versions")
      .set({ sha256: sha(Buffer.from("other bytes")) })
      .where("bucket", "=", bucket)
      .where("key", "=", `blobs/sha256/${sha(big)}`)
      .executeTakeFirst();
    expect(Number(updated.numUpdatedRows)).toBe(1);
    const got = await receive(`bad-${run}`, "latest", "w.bin");
    expect(got.header?.file).toMatchObject({ size: big.length, sha256: sha(big) });
    expect(got.body.length).toBeLessThan(big.length);
    expect(await refusal(Promise.reject(got.error))).toMatchObject({
      code: "DATA_LOSS",
      errorCode: "DATA_CORRUPTED",
    });
  });

  it("lists by type, tag and metadata, newest first, a page at a time", async () => {
    const all = await list({ modelType: TYPE });
    expect(all.versions.map((v) => v.version)).toEqual(["3.0.0", "2.0.0", "1.0.0"]);
    expect((await list({ modelType: TYPE, tag: "large" })).versions.map((v) => v.version)).toEqual(["2.0.0"]);
    const team = await list({ modelType: TYPE, metadataKey: "team", metadataValue: "ranking" });
    expect(team.versions.map((v) => v.version)).toEqual(["3.0.0"]);

    const seen: string[] = [];
    let pageToken = "";
    do {
      const page = await list({ modelType: TYPE, pageSize: 2, pageToken });
      expect(page.versions.length).toBeLessThanOrEqual(2);
      seen.push(...page.versions.map((v) => v.version));
      pageToken = page.nextPageToken;
    } while (pageToken);
    expect(seen).toEqual(["3.0.0", "2.0.0", "1.0.0"]);
  });

  it("refuses to delete a version an alias names unless forced; an alias can be removed", async () => {
    const refused = await refusal(unary("DeleteModelVersion", { modelType: TYPE, version: "1.0.0" }));
    expect(refused).toMatchObject({ code: "FAILED_PRECONDITION", details: { aliases: "production" } });
    expect((await unary<ModelVersion__Output>("GetModel", { modelType: TYPE, ref: "1.0.0" })).version).toBe(
      "1.0.0",
    );

    await unary("SetModelAlias", { modelType: TYPE, alias: "staging", version: "2.0.0" });
    expect(await unary("DeleteModelAlias", { modelType: TYPE, alias: "staging" })).toEqual({
      modelType: TYPE,
      alias: "staging",
    });
    expect(await refusal(unary("GetModel", { modelType: TYPE, ref: "staging" }))).toMatchObject({
      code: "NOT_FOUND",
    });

    expect(await unary("DeleteModelVersion", { modelType: TYPE, version: "1.0.0", force: true })).toEqual({
      modelType: TYPE,
      version: "1.0.0",
    });
    expect(await refusal(unary("GetModel", { modelType: TYPE, ref: "production" }))).toMatchObject({
      code: "NOT_FOUND",
    });
  });

  it("collects exactly the blobs no version references: the dry run reports them, the real run frees them", async () => {
    // After 1.0.0 went, only its weights and vocab are unreferenced (2.0.0 still names the vocab).
    const orphan = `blobs/sha256/${sha(weights)}`;
    const dry = await gc(true);
    expect(dry).toMatchObject({ dryRun: true, blobs: 1, keys: [orphan] });
    expect(dry.bytes).toBeGreaterThan(0);
    expect(await blobKeys()).toContain(orphan);

    const real = await gc(false);
    expect(real).toMatchObject({ dryRun: false, blobs: 1, bytes: dry.bytes, keys: [orphan] });
    expect(await blobKeys()).not.toContain(orphan);
    expect(await gc(true)).toMatchObject({ blobs: 0, bytes: 0 });
    expect(sha((await download(TYPE, "2.0.0", "vocab.txt")).body)).toBe(sha(vocab));
  });

  it("refuses keys without the scope before anything is stored", async () => {
    const other = await h.issue("other-team", [
      `${bucket}/other-${run}/:read,write,list,delete`,
      `${bucket}/blobs/:read,write`,
    ]);
    const before = await blobKeys();
    const body = randomBytes(2048);
    expect(
      await refusal(push({ modelType: TYPE, version: "4.0.0" }, [{ path: "a.bin", body }], other)),
    ).toMatchObject({
      code: "PERMISSION_DENIED",
    });
    expect(await blobKeys()).toEqual(before);
    expect(await refusal(unary("GetModel", { modelType: TYPE, ref: "latest" }, other))).toMatchObject({
      code: "PERMISSION_DENIED",
    });

    // Write on the type but not on blobs/: a push needs both.
    const noBlobs = await h.issue("no-blobs", [`${bucket}/${TYPE}/:read,write`]);
    expect(
      await refusal(push({ modelType: TYPE, version: "4.0.0" }, [{ path: "a.bin", body }], noBlobs)),
    ).toMatchObject({
      code: "PERMISSION_DENIED",
    });
    expect(await blobKeys()).toEqual(before);

    const reader = await h.issue("reader", [`${bucket}/${TYPE}/:read`]);
    expect(
      (await unary<ModelVersion__Output>("GetModel", { modelType: TYPE, ref: "latest" }, reader)).version,
    ).toBe("3.0.0");
    expect(
      await refusal(unary("DeleteModelVersion", { modelType: TYPE, version: "2.0.0" }, reader)),
    ).toMatchObject({
      code: "PERMISSION_DENIED",
    });
    expect(await refusal(gc(false, reader))).toMatchObject({ code: "PERMISSION_DENIED" });
  });

  it("takes a file header naming a stored blob by sha256 without its bytes, for keys that may read blobs", async () => {
    const noRead = await h.issue("no-blob-read", [`${bucket}/${TYPE}/:write`, `${bucket}/blobs/:write`]);
    const byHash = [{ path: "config.json", sha256: sha(config), size: config.length }];
    expect(await refusal(push({ modelType: TYPE, version: "6.0.0" }, byHash, noRead))).toMatchObject({
      code: "PERMISSION_DENIED",
    });
    // A declared size other than the stored blob's is a mistake about the file, not a reference to it.
    const wrongSize = [{ path: "config.json", sha256: sha(config), size: config.length + 1 }];
    expect(await refusal(push({ modelType: TYPE, version: "6.0.0" }, wrongSize))).toMatchObject({
      code: "FAILED_PRECONDITION",
      errorCode: "PRECONDITION_FAILED",
    });
    expect(await refusal(unary("GetModel", { modelType: TYPE, ref: "6.0.0" }))).toMatchObject({
      code: "NOT_FOUND",
    });
    const v6 = await push({ modelType: TYPE, version: "6.0.0" }, byHash);
    expect(v6.files).toMatchObject([{ path: "config.json", size: config.length, sha256: sha(config) }]);
    // A sha256 whose blob is not stored needs the bytes: none sent is a mismatch, and nothing is published.
    const absent = randomBytes(32).toString("hex");
    expect(
      await refusal(push({ modelType: TYPE, version: "6.1.0" }, [{ path: "a.bin", sha256: absent }])),
    ).toMatchObject({ code: "FAILED_PRECONDITION" });
    expect(await refusal(unary("GetModel", { modelType: TYPE, ref: "6.1.0" }))).toMatchObject({
      code: "NOT_FOUND",
    });
  });

  it("refuses bad names with INVALID_ARGUMENT", async () => {
    const body = randomBytes(16);
    for (const header of [
      { modelType: "Bad/Type", version: "1.0.0" },
      { modelType: "blobs", version: "1.0.0" },
      { modelType: TYPE, version: "latest" },
      { modelType: TYPE, version: "../1" },
    ]) {
      expect(await refusal(push(header, [{ path: "a.bin", body }]))).toMatchObject({
        code: "INVALID_ARGUMENT",
        errorCode: "INVALID_ARGUMENT",
      });
    }
    expect(
      await refusal(push({ modelType: TYPE, version: "5.0.0" }, [{ path: "../escape.bin", body }])),
    ).toMatchObject({ code: "INVALID_ARGUMENT" });
    expect(
      await refusal(
        push({ modelType: TYPE, version: "5.0.0" }, [
          { path: "a.bin", body },
          { path: "a.bin", body },
        ]),
      ),
    ).toMatchObject({ code: "INVALID_ARGUMENT" });
    expect(
      await refusal(unary("SetModelAlias", { modelType: TYPE, alias: "latest", version: "2.0.0" })),
    ).toMatchObject({
      code: "INVALID_ARGUMENT",
    });
    expect(await refusal(unary("GetModel", { modelType: "../x", ref: "latest" }))).toMatchObject({
      code: "INVALID_ARGUMENT",
    });
    expect(await refusal(unary("GetModel", { modelType: TYPE, ref: "5.0.0" }))).toMatchObject({
      code: "NOT_FOUND",
    });
  });

  it("a push cancelled part-way publishes nothing and leaves no staged upload; only a whole file's blob may stay (gc's)", async () => {
    const whole = uploadableBytes(256 * 1024);
    const cut = uploadableBytes(3 * 1024 * 1024);
    const blobsBefore = await blobKeys();
    const call = client.PushModel(auth(h.adminToken), () => {});
    const ended = new Promise<number>((resolve) =>
      call.on("status", (st: { code: number }) => resolve(st.code)),
    );
    call.write({ header: { modelType: TYPE, version: "7.0.0" } });
    // The first file whole (no declared sha256: it is staged, then moved to its blob)...
    call.write({ file: { path: "whole.bin" } });
    for (let at = 0; at < whole.length; at += 64 * 1024)
      call.write({ chunk: whole.subarray(at, at + 64 * 1024) });
    // ...the second one a third of the way, then the client gives up.
    call.write({ file: { path: "cut.bin" } });
    for (let at = 0; at < MiB; at += 64 * 1024) call.write({ chunk: cut.subarray(at, at + 64 * 1024) });
    await until(
      async () => (await stagedKeys()).length > 0 || (await blobKeys()).length > blobsBefore.length,
    );
    call.cancel();
    expect(await ended).toBe(status.CANCELLED);
    expect(await h.server.inFlight.drain(15_000)).toBe(true);

    expect(await refusal(unary("GetModel", { modelType: TYPE, ref: "7.0.0" }))).toMatchObject({
      code: "NOT_FOUND",
    });
    expect(await stagedKeys()).toEqual([]);
    const added = (await blobKeys()).filter((k) => !blobsBefore.includes(k));
    expect(added.every((k) => k === `blobs/sha256/${sha(whole)}`)).toBe(true);
    expect(added).not.toContain(`blobs/sha256/${sha(cut)}`);
    expect(await h.app.store.listIncompleteUploads(bucket)).toEqual([]);
  });
});
