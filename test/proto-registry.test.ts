import { execFile } from "node:child_process";
import { createWriteStream } from "node:fs";
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { join, relative, resolve } from "node:path";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { StorageError } from "../src/errors.ts";
import type { ProtoFileInput, PublishRequest } from "../src/stores/proto/types.ts";
import { createTestApp, type TestApp } from "./support/app.ts";
import { uploadableBytes } from "./support/data.ts";
import {
  ADDED_FIELD,
  asFiles,
  BILLING,
  COMMON,
  V1,
  V1_1,
  V1_1_OTHER,
  V2_BREAKING,
} from "./support/proto-sets.ts";

/**
 * The proto registry's store API on the shared MinIO: publishing with validation, the
 * breaking-change check and its override, immutability, concurrent publishers of one version,
 * refusals that store nothing, generated code that compiles/imports, and the reads.
 */

const run = promisify(execFile);
const ROOT = resolve(import.meta.dirname, "..");
const SERVICE = "billing";

async function rejection(promise: Promise<unknown>): Promise<StorageError> {
  try {
    await promise;
  } catch (err) {
    return err as StorageError;
  }
  throw new Error("expected a rejection");
}

async function filesUnder(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries
    .filter((e) => e.isFile())
    .map((e) => relative(dir, join(e.parentPath, e.name)))
    .sort();
}

describe("proto registry (store API, MinIO)", () => {
  let app: TestApp;
  let work: string;
  const publish = (version: string, files: ProtoFileInput[], extra: Partial<PublishRequest> = {}) =>
    app.protos.publish({ service: SERVICE, version, files, uploader: "registry-test", ...extra });

  /** Every key and sha256 in the proto-files bucket, from the index. */
  async function bucketListing(): Promise<string[]> {
    const out: string[] = [];
    let cursor: string | undefined;
    do {
      const page = await app.service.list(app.config.buckets.protoFiles, {
        recursive: true,
        ...(cursor ? { cursor } : {}),
      });
      out.push(...page.objects.map((o) => `${o.key} ${o.sha256}`));
      cursor = page.nextCursor;
    } while (cursor);
    return out.sort();
  }

  beforeAll(async () => {
    app = await createTestApp("minio");
    // Inside the repository, so generated TypeScript resolves @grpc/grpc-js from node_modules.
    await mkdir(join(ROOT, "tmp"), { recursive: true }); // absent in a fresh clone
    work = await mkdtemp(join(ROOT, "tmp", "proto-registry-"));
  });

  afterAll(async () => {
    await app?.dispose();
    if (work) await rm(work, { recursive: true, force: true });
  });

  it("publishes v1.0.0 of a two-file set with an import, with generated code", async () => {
    const result = await publish("1.0.0", asFiles(V1));
    expect(result.created).toBe(true);
    const v = result.version;
    expect(v).toMatchObject({
      service: SERVICE,
      version: "1.0.0",
      uploader: "registry-test",
      breakingOverridden: false,
    });
    expect(v.files.map((f) => f.filename)).toEqual([BILLING, COMMON]);
    expect(v.digest).toMatch(/^[0-9a-f]{64}$/);
    expect(v.generated).toEqual([
      { language: "typescript", ok: true, files: expect.any(Number) },
      { language: "python", ok: true, files: expect.any(Number) },
    ]);
    expect(v.generated.every((g) => g.files > 0)).toBe(true);
  });

  it("accepts v1.1.0 adding a field, and reports it in the diff", async () => {
    const result = await publish("1.1.0", asFiles(V1_1));
    expect(result).toMatchObject({
      created: true,
      version: { breakingViolations: [], breakingOverridden: false },
    });
    const diff = await app.protos.diff(SERVICE, "1.0.0", "1.1.0");
    expect(diff).toEqual({
      from: "1.0.0",
      to: "1.1.0",
      added: { messages: [], services: [], fields: [ADDED_FIELD] },
      removed: { messages: [], services: [], fields: [] },
    });
  });

  it("refuses v2.0.0 changing a field's type, listing the violation, and stores nothing", async () => {
    const before = await bucketListing();
    const err = await rejection(publish("2.0.0", asFiles(V2_BREAKING)));
    expect(err.code).toBe("PRECONDITION_FAILED");
    const violations = JSON.parse(String(err.details.violations)) as string[];
    expect(violations.length).toBeGreaterThan(0);
    expect(violations.join("\n")).toMatch(/billing\/v1\/billing\.proto:\d+:\d+: .*"id".*changed type/);
    expect(err.message).toContain("changed type");
    expect(await bucketListing()).toEqual(before);
    await expect(app.protos.resolve(SERVICE, "2.0.0")).rejects.toMatchObject({ code: "NOT_FOUND" });
  });

  it("accepts v2.0.0 with the override, and records it", async () => {
    const result = await publish("2.0.0", asFiles(V2_BREAKING), { allowBreaking: true });
    expect(result.created).toBe(true);
    expect(result.version.breakingOverridden).toBe(true);
    expect(result.version.breakingViolations.join("\n")).toContain("changed type");
    const stored = await app.protos.resolve(SERVICE, "2.0.0");
    expect(stored.breakingOverridden).toBe(true);
    expect(stored.breakingViolations).toEqual(result.version.breakingViolations);
  });

  it("treats an identical re-upload as idempotent and other content as ALREADY_EXISTS", async () => {
    const first = await app.protos.resolve(SERVICE, "1.1.0");
    // Same files in another order: the same set.
    const again = await publish("1.1.0", asFiles(V1_1).reverse(), { uploader: "someone-else" });
    expect(again.created).toBe(false);
    expect(again.version).toEqual(first);
    const before = await bucketListing();
    const err = await rejection(publish("1.1.0", asFiles(V1_1_OTHER)));
    expect(err.code).toBe("ALREADY_EXISTS");
    expect(await bucketListing()).toEqual(before);
  });

  it("lists versions by semver precedence, not by name, and resolves latest", async () => {
    // "1.10.0" sorts before "1.2.0" as text; by precedence it comes after.
    await publish("1.10.0", asFiles(V1_1));
    await publish("1.2.0", asFiles(V1_1));
    await publish("3.0.0-rc.1", asFiles(V2_BREAKING));
    const versions = await app.protos.versions(SERVICE);
    expect(versions.map((v) => v.version)).toEqual([
      "1.0.0",
      "1.1.0",
      "1.2.0",
      "1.10.0",
      "2.0.0",
      "3.0.0-rc.1",
    ]);
    expect(versions.every((v) => v.createdAt instanceof Date && v.uploader === "registry-test")).toBe(true);
    // latest is the highest release; a pre-release is not one.
    expect((await app.protos.resolve(SERVICE, "latest")).version).toBe("2.0.0");
    expect(await app.protos.services()).toContain(SERVICE);
  });

  it("lists the messages, services and enums a version defines (not its imports)", async () => {
    const defs = await app.protos.definitions(SERVICE, "1.0.0");
    expect(defs).toEqual({
      messages: ["acme.billing.v1.GetInvoiceRequest", "acme.billing.v1.Invoice", "acme.common.v1.Money"],
      services: [{ name: "acme.billing.v1.BillingService", methods: ["GetInvoice"] }],
      enums: [],
    });
  });

  it.each([
    [
      "a syntax error",
      { [BILLING]: 'syntax = "proto3";\npackage x;\n\nmessage A {\n  string a = 1\n}\n' },
      /billing\.proto:\d+:\d+/,
    ],
    [
      "an unresolved import",
      { [BILLING]: 'syntax = "proto3";\npackage x;\nimport "nowhere/missing.proto";\n' },
      /missing\.proto|does not exist/,
    ],
  ])("refuses %s with file, line and column, storing nothing", async (_name, set, message) => {
    const before = await bucketListing();
    const err = await rejection(publish("9.0.0", asFiles(set)));
    expect(err.code).toBe("INVALID_ARGUMENT");
    expect(err.details).toMatchObject({
      file: BILLING,
      line: expect.any(Number),
      column: expect.any(Number),
    });
    expect(Number(err.details.line)).toBeGreaterThan(0);
    expect(err.message).toMatch(message);
    expect(await bucketListing()).toEqual(before);
  });

  it("refuses bad versions, unsafe file names and a 20 MB set, storing nothing", async () => {
    const before = await bucketListing();
    const cases: Array<[string, ProtoFileInput[], string, string]> = [
      ["v1.0.0", asFiles(V1), "INVALID_ARGUMENT", "version"],
      ["1.0", asFiles(V1), "INVALID_ARGUMENT", "version"],
      ["latest", asFiles(V1), "INVALID_ARGUMENT", "version"],
      [
        "9.0.1",
        [{ filename: "../escape.proto", content: Buffer.from('syntax = "proto3";') }],
        "INVALID_ARGUMENT",
        "filename",
      ],
      [
        "9.0.1",
        [{ filename: "/etc/abs.proto", content: Buffer.from('syntax = "proto3";') }],
        "INVALID_ARGUMENT",
        "filename",
      ],
      [
        "9.0.1",
        [{ filename: "a\\b.proto", content: Buffer.from('syntax = "proto3";') }],
        "INVALID_ARGUMENT",
        "filename",
      ],
      ["9.0.1", [{ filename: "notes.txt", content: Buffer.from("hello") }], "INVALID_ARGUMENT", "filename"],
      ["9.0.1", [], "INVALID_ARGUMENT", "files"],
      [
        "9.0.1",
        [{ filename: "big.proto", content: Buffer.alloc(20 * 1024 * 1024, 0x20) }],
        "TOO_LARGE",
        "files",
      ],
    ];
    for (const [version, files, code, field] of cases) {
      const err = await rejection(publish(version, files));
      expect({ version, code: err.code, field: err.details.field }).toEqual({ version, code, field });
    }
    expect(await bucketListing()).toEqual(before);
  });

  it("lets exactly one of 8 concurrent publishers of a new version win", async () => {
    const variants = Array.from({ length: 8 }, (_, i) =>
      asFiles({ ...V1_1, [COMMON]: `// publisher ${i}\n${V1_1[COMMON]}` }),
    );
    const outcomes = await Promise.allSettled(
      variants.map((files) => publish("4.0.0", files, { allowBreaking: true })),
    );
    const won = outcomes.flatMap((o, i) => (o.status === "fulfilled" ? [{ i, result: o.value }] : []));
    const lost = outcomes.flatMap((o) => (o.status === "rejected" ? [(o.reason as StorageError).code] : []));
    expect(won).toHaveLength(1);
    expect(won[0]?.result.created).toBe(true);
    expect(lost).toEqual(Array(7).fill("ALREADY_EXISTS"));
    // What is stored is the winner's set, byte for byte.
    const winner = variants[won[0]?.i ?? -1] as ProtoFileInput[];
    for (const file of winner) {
      const { body } = await app.protos.downloadFile(SERVICE, "4.0.0", file.filename);
      const chunks: Buffer[] = [];
      for await (const c of body) chunks.push(c as Buffer);
      expect(Buffer.concat(chunks).equals(file.content), file.filename).toBe(true);
    }
    const keys = (await bucketListing()).filter((k) => k.startsWith(`${SERVICE}/4.0.0/`));
    expect(keys.filter((k) => !k.includes("/generated/")).map((k) => k.split(" ")[0])).toEqual(
      [BILLING, COMMON, "image.binpb", "manifest.json"].map((f) => `${SERVICE}/4.0.0/${f}`).sort(),
    );
  });

  it("serves a version as a .tar.gz whose generated TypeScript compiles and Python imports", async () => {
    const archive = join(work, "v1.tar.gz");
    await pipeline(await app.protos.downloadTarball(SERVICE, "1.0.0"), createWriteStream(archive));
    const out = join(work, "v1");
    await run("mkdir", ["-p", out]);
    await run("tar", ["-xzf", archive, "-C", out]);
    const files = await filesUnder(out);
    const version = await app.protos.resolve(SERVICE, "1.0.0");
    const sources = files.filter((f) => !f.startsWith("generated/"));
    expect(sources).toEqual(version.files.map((f) => f.filename));
    for (const [filename, text] of Object.entries(V1)) {
      expect(await readFile(join(out, filename), "utf8")).toBe(text);
    }
    const generated = files.filter((f) => f.startsWith("generated/"));
    const counts = version.generated.map(
      (g) => generated.filter((f) => f.startsWith(`generated/${g.language}/`)).length,
    );
    expect(counts).toEqual(version.generated.map((g) => g.files));

    const tsDir = join(out, "generated", "typescript");
    expect(await filesUnder(tsDir)).toContain("acme/billing/v1/BillingService.ts");
    await writeFile(
      join(tsDir, "tsconfig.json"),
      JSON.stringify({
        compilerOptions: {
          strict: true,
          noEmit: true,
          module: "nodenext",
          moduleResolution: "nodenext",
          target: "es2022",
          skipLibCheck: true,
          types: [],
        },
        include: ["**/*.ts"],
      }),
    );
    await run(join(ROOT, "node_modules/.bin/tsc"), ["-p", tsDir], { cwd: ROOT });

    const pyDir = join(out, "generated", "python");
    const { stdout } = await run(
      "python3",
      [
        "-c",
        "import billing.v1.billing_pb2 as b, billing.v1.billing_pb2_grpc as g; print(b.Invoice.DESCRIPTOR.full_name, hasattr(g, 'BillingServiceStub'))",
      ],
      { env: { ...process.env, PYTHONPATH: pyDir } },
    );
    expect(stdout.trim()).toBe("acme.billing.v1.Invoice True");
  });

  it("stores uploaded generated code as is, attributed to its uploader", async () => {
    const body = uploadableBytes(3000);
    const stored = await app.protos.uploadGenerated({
      service: SERVICE,
      version: "1.0.0",
      language: "go",
      filename: "billing/v1/billing.pb.go",
      body: Readable.from([body]),
      uploader: "codegen-bot",
    });
    expect(stored).toMatchObject({
      bucket: app.config.buckets.grpcServices,
      key: `${SERVICE}/1.0.0/go/billing/v1/billing.pb.go`,
      size: body.length,
    });
    const info = await app.service.stat(stored.bucket, stored.key);
    expect(info.owner).toBe("codegen-bot");
    expect(info.sha256).toBe(stored.sha256);
    const err = await rejection(
      app.protos.uploadGenerated({
        service: SERVICE,
        version: "8.8.8",
        language: "go",
        filename: "x.go",
        body: Readable.from([body]),
        uploader: "x",
      }),
    );
    expect(err.code).toBe("NOT_FOUND");
    const traversal = await rejection(
      app.protos.uploadGenerated({
        service: SERVICE,
        version: "1.0.0",
        language: "go",
        filename: "../x.go",
        body: Readable.from([body]),
        uploader: "x",
      }),
    );
    expect(traversal.code).toBe("INVALID_ARGUMENT");
  });

  it("answers NOT_FOUND for unknown services, versions and files", async () => {
    await expect(app.protos.resolve("nobody", "latest")).rejects.toMatchObject({ code: "NOT_FOUND" });
    await expect(app.protos.resolve(SERVICE, "7.7.7")).rejects.toMatchObject({ code: "NOT_FOUND" });
    await expect(app.protos.downloadFile(SERVICE, "1.0.0", "other.proto")).rejects.toMatchObject({
      code: "NOT_FOUND",
    });
    expect(await app.protos.versions("nobody")).toEqual([]);
  });
});
