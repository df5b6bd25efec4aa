import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  bearer,
  expectProblem,
  type HttpHarness,
  json,
  jsonPost,
  multipartBody,
  startHttp,
  streamed,
} from "./support/http.ts";
import {
  ADDED_FIELD,
  BILLING,
  COMMON,
  type ProtoSet,
  V1,
  V1_1,
  V1_1_OTHER,
  V2_BREAKING,
} from "./support/proto-sets.ts";

/**
 * /v1/protos over real sockets on the shared MinIO: publishing as a form and as JSON, the
 * refusals (with nothing stored), byte-for-byte reads, the archive, diff and definitions, and
 * scopes on the proto-files bucket per service.
 */

const run = promisify(execFile);
const SERVICE = "billing";
const sha256 = (data: Buffer | string) => createHash("sha256").update(data).digest("hex");

interface VersionJson {
  service: string;
  version: string;
  createdAt: string;
  digest: string;
  uploader: string;
  files: Array<{ filename: string; size: number; sha256: string }>;
  breakingOverridden: boolean;
  breakingViolations: string[];
  generated: Array<{ language: string; ok: boolean; files: number }>;
}

const jsonSet = (set: ProtoSet, extra: Record<string, unknown> = {}) =>
  jsonPost({
    files: Object.entries(set).map(([filename, text]) => ({
      filename,
      content: Buffer.from(text).toString("base64"),
    })),
    ...extra,
  });

function formSet(set: ProtoSet, fields: Record<string, string> = {}) {
  const { body, contentType } = multipartBody([
    ...Object.entries(fields).map(([name, value]) => ({ name, value })),
    ...Object.entries(set).map(([filename, text]) => ({ name: "file", filename, data: Buffer.from(text) })),
  ]);
  return streamed(body, { method: "POST", headers: { "content-type": contentType } });
}

describe("proto registry over HTTP (MinIO)", () => {
  let h: HttpHarness;
  let work: string;
  const url = (path: string) => `${h.base}/v1/protos${path}`;
  const versionUrl = (version: string, rest = "") => url(`/${SERVICE}/versions/${version}${rest}`);

  async function bucketListing(): Promise<string[]> {
    const page = await h.app.service.list(h.app.config.buckets.protoFiles, { recursive: true, limit: 1000 });
    return page.objects.map((o) => `${o.key} ${o.sha256}`).sort();
  }

  beforeAll(async () => {
    h = await startHttp("minio");
    work = await mkdtemp(join(tmpdir(), "proto-http-"));
  });

  afterAll(async () => {
    await h?.close();
    if (work) await rm(work, { recursive: true, force: true });
  });

  it("publishes v1.0.0 as a form (folders kept) and answers the same set as JSON idempotently", async () => {
    const res = await h.fetch(versionUrl("1.0.0"), formSet(V1));
    expect(res.status, await res.clone().text()).toBe(201);
    const body = await json<{ created: boolean; version: VersionJson }>(res);
    expect(body.created).toBe(true);
    expect(body.version.files.map((f) => f.filename)).toEqual([BILLING, COMMON]);
    expect(body.version.uploader).toBe("test-admin");
    expect(body.version.generated.map((g) => [g.language, g.ok])).toEqual([
      ["typescript", true],
      ["python", true],
    ]);
    const again = await h.fetch(versionUrl("1.0.0"), jsonSet(V1));
    expect(again.status).toBe(200);
    expect(await json<{ created: boolean; version: VersionJson }>(again)).toEqual({
      created: false,
      version: body.version,
    });
  });

  it("accepts a compatible v1.1.0, refuses a breaking v2.0.0 until overridden, and keeps versions immutable", async () => {
    expect((await h.fetch(versionUrl("1.1.0"), jsonSet(V1_1))).status).toBe(201);

    const before = await bucketListing();
    const refused = await expectProblem(
      await h.fetch(versionUrl("2.0.0"), jsonSet(V2_BREAKING)),
      412,
      "PRECONDITION_FAILED",
    );
    const violations = JSON.parse(String(refused.details?.violations)) as string[];
    expect(violations.join("\n")).toMatch(/billing\.proto:\d+:\d+: .*"id".*changed type/);
    expect(await bucketListing()).toEqual(before);

    const overridden = await h.fetch(versionUrl("2.0.0"), jsonSet(V2_BREAKING, { allowBreaking: true }));
    expect(overridden.status).toBe(201);
    expect((await json<{ version: VersionJson }>(overridden)).version).toMatchObject({
      breakingOverridden: true,
      breakingViolations: violations,
    });

    await expectProblem(await h.fetch(versionUrl("1.1.0"), jsonSet(V1_1_OTHER)), 409, "ALREADY_EXISTS");
    expect((await h.fetch(versionUrl("1.1.0"), formSet(V1_1))).status).toBe(200);
  });

  it("refuses broken sets, bad versions, unsafe names and 20 MB, storing nothing", async () => {
    const before = await bucketListing();
    const syntax = await expectProblem(
      await h.fetch(
        versionUrl("5.0.0"),
        jsonSet({ [BILLING]: 'syntax = "proto3";\nmessage A {\n  string a = 1\n}\n' }),
      ),
      400,
      "INVALID_ARGUMENT",
    );
    expect(syntax.details).toMatchObject({
      file: BILLING,
      line: expect.any(Number),
      column: expect.any(Number),
    });
    const missing = await expectProblem(
      await h.fetch(
        versionUrl("5.0.0"),
        formSet({ [BILLING]: 'syntax = "proto3";\nimport "gone/v1/gone.proto";\n' }),
      ),
      400,
      "INVALID_ARGUMENT",
    );
    expect(missing.details).toMatchObject({ file: BILLING, line: 2 });
    await expectProblem(await h.fetch(versionUrl("v5"), jsonSet(V1)), 400, "INVALID_ARGUMENT");
    await expectProblem(await h.fetch(versionUrl("latest"), jsonSet(V1)), 400, "INVALID_ARGUMENT");
    const traversal = await expectProblem(
      await h.fetch(versionUrl("5.0.0"), formSet({ "../../etc/evil.proto": 'syntax = "proto3";' })),
      400,
      "INVALID_ARGUMENT",
    );
    expect(traversal.details).toMatchObject({ field: "filename" });
    await expectProblem(
      await h.fetch(versionUrl("5.0.0"), jsonSet({ "/abs/evil.proto": 'syntax = "proto3";' })),
      400,
      "INVALID_ARGUMENT",
    );
    const huge = `syntax = "proto3";\n${"// padding\n".repeat((20 * 1024 * 1024) / 11)}`;
    await expectProblem(
      await h.fetch(versionUrl("5.0.0"), formSet({ "big/v1/big.proto": huge })),
      413,
      "TOO_LARGE",
    );
    await expectProblem(
      await h.fetch(versionUrl("5.0.0"), jsonSet({ "big/v1/big.proto": huge })),
      413,
      "TOO_LARGE",
    );
    expect(await bucketListing()).toEqual(before);
    await expectProblem(await h.fetch(versionUrl("5.0.0")), 404, "NOT_FOUND");
  });

  it("lists services and versions, resolves latest, and serves files byte for byte", async () => {
    expect(await json(await h.fetch(url("")))).toEqual({ services: [SERVICE] });
    const { versions } = await json<{ versions: VersionJson[] }>(await h.fetch(url(`/${SERVICE}/versions`)));
    expect(versions.map((v) => v.version)).toEqual(["1.0.0", "1.1.0", "2.0.0"]);
    expect(versions.map((v) => v.breakingOverridden)).toEqual([false, false, true]);
    const latest = await json<VersionJson>(await h.fetch(versionUrl("latest")));
    expect(latest.version).toBe("2.0.0");

    for (const [filename, text] of Object.entries(V1)) {
      const res = await h.fetch(versionUrl("1.0.0", `/files/${filename}`));
      expect(res.status).toBe(200);
      const bytes = Buffer.from(await res.arrayBuffer());
      expect(bytes.equals(Buffer.from(text)), filename).toBe(true);
      expect(res.headers.get("x-checksum-sha256")).toBe(sha256(text));
    }
    await expectProblem(await h.fetch(versionUrl("1.0.0", "/files/nope/v1/nope.proto")), 404, "NOT_FOUND");
    await expectProblem(
      await h.fetch(versionUrl("1.0.0", "/files/..%2F..%2Fsecret.proto")),
      400,
      "INVALID_ARGUMENT",
    );
  });

  it("serves a version as a .tar.gz that unpacks to its files", async () => {
    const res = await h.fetch(versionUrl("1.1.0", "/archive"));
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("application/gzip");
    const archive = join(work, "v1.1.0.tar.gz");
    await writeFile(archive, Buffer.from(await res.arrayBuffer()));
    const out = join(work, "v1.1.0");
    await run("mkdir", ["-p", out]);
    await run("tar", ["-xzf", archive, "-C", out]);
    for (const [filename, text] of Object.entries(V1_1)) {
      expect(await readFile(join(out, filename), "utf8")).toBe(text);
    }
    const entries = await readdir(out, { recursive: true, withFileTypes: true });
    const files = entries.filter((e) => e.isFile()).map((e) => relative(out, join(e.parentPath, e.name)));
    expect(files.filter((f) => !f.startsWith("generated/")).sort()).toEqual([BILLING, COMMON]);
    expect(files.some((f) => f.startsWith("generated/python/") && f.endsWith("_pb2.py"))).toBe(true);
    expect(files.some((f) => f.startsWith("generated/typescript/") && f.endsWith(".ts"))).toBe(true);
  });

  it("diffs two versions and lists a version's definitions", async () => {
    const diff = await json(await h.fetch(url(`/${SERVICE}/diff?from=1.0.0&to=1.1.0`)));
    expect(diff).toEqual({
      from: "1.0.0",
      to: "1.1.0",
      added: { messages: [], services: [], fields: [ADDED_FIELD] },
      removed: { messages: [], services: [], fields: [] },
    });
    const defs = await json(await h.fetch(versionUrl("latest", "/definitions")));
    expect(defs).toMatchObject({
      services: [{ name: "acme.billing.v1.BillingService", methods: ["GetInvoice"] }],
      messages: expect.arrayContaining(["acme.billing.v1.Invoice", "acme.common.v1.Money"]),
    });
  });

  it("stores uploaded generated code in the grpc-services bucket, attributed to its uploader", async () => {
    const code = Buffer.from("package billingv1\n");
    const res = await h.fetch(versionUrl("1.0.0", "/generated/go/billing/v1/billing.pb.go"), {
      method: "PUT",
      headers: { "content-type": "text/plain" },
      body: code,
    });
    expect(res.status).toBe(201);
    const stored = await json<{ bucket: string; key: string; sha256: string; size: number }>(res);
    expect(stored).toEqual({
      bucket: h.app.config.buckets.grpcServices,
      key: `${SERVICE}/1.0.0/go/billing/v1/billing.pb.go`,
      sha256: sha256(code),
      size: code.length,
    });
    expect((await h.app.service.stat(stored.bucket, stored.key)).owner).toBe("test-admin");
  });

  it("judges scopes per service: read-only keys read, cannot publish, and see no other service", async () => {
    const reader = await h.createKey("billing-reader", [
      `${h.app.config.buckets.protoFiles}/${SERVICE}/:read`,
    ]);
    const asReader = (path: string, init: RequestInit = {}) =>
      fetch(path, { ...init, headers: { ...bearer(reader), ...(init.headers as Record<string, string>) } });
    expect((await asReader(versionUrl("1.0.0"))).status).toBe(200);
    await expectProblem(await asReader(versionUrl("7.0.0"), jsonSet(V1_1)), 403, "PERMISSION_DENIED");
    await expectProblem(await asReader(url("/other/versions")), 403, "PERMISSION_DENIED");
    await expectProblem(await asReader(url("")), 403, "PERMISSION_DENIED");

    const publisher = await h.createKey("billing-ci", [
      `${h.app.config.buckets.protoFiles}/${SERVICE}/:read,write`,
    ]);
    const published = await fetch(versionUrl("1.2.0"), {
      ...jsonSet(V1_1),
      headers: { ...bearer(publisher), "content-type": "application/json" },
    });
    expect(published.status).toBe(201);
    expect((await json<{ version: VersionJson }>(published)).version.uploader).toBe("billing-ci");

    const audit = await json<{
      records: Array<{ action: string; service: string; result: string; key: string | null }>;
    }>(await h.fetch(`${h.base}/v1/admin/audit?bucket=${h.app.config.buckets.protoFiles}`));
    const publishes = audit.records.filter((r) => r.action === "protos.publish");
    expect(publishes).toContainEqual(
      expect.objectContaining({ service: "billing-ci", result: "OK", key: `${SERVICE}/1.2.0/` }),
    );
    expect(publishes).toContainEqual(expect.objectContaining({ result: "PRECONDITION_FAILED" }));
  });
});
