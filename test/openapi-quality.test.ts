import { execFile } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { Validator } from "@seriousme/openapi-schema-validator";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type HttpHarness, startHttp } from "./support/http.ts";

/**
 * The OpenAPI document as client generators need it, checked over every operation (so routes added
 * later are held to it too), against what the running service answers, and by generating a client
 * with openapi-typescript + openapi-fetch, compiling it and making a round trip with it.
 */

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const NODE24 = join(ROOT, "node_modules/node/bin/node");

interface Response {
  description?: string;
  headers?: Record<string, unknown>;
  content?: Record<string, { schema?: unknown; example?: unknown }>;
}
interface Operation {
  operationId?: string;
  security?: unknown[];
  parameters?: { name: string; in: string }[];
  responses: Record<string, Response>;
}
type Doc = { servers?: unknown[]; paths: Record<string, Record<string, Operation>> };

function run(file: string, args: string[], cwd: string, env: Record<string, string> = {}) {
  return new Promise<{ code: number | null; stdout: string; stderr: string }>((done) => {
    execFile(file, args, { cwd, env: { ...process.env, ...env } }, (err, stdout, stderr) => {
      done({ code: err ? (typeof err.code === "number" ? err.code : null) : 0, stdout, stderr });
    });
  });
}

let h: HttpHarness;
let doc: Doc;
const operations: { method: string; path: string; op: Operation }[] = [];

beforeAll(async () => {
  h = await startHttp("minio");
  doc = (await (await fetch(`${h.base}/openapi.json`)).json()) as Doc;
  for (const [path, item] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(item)) operations.push({ method, path, op });
  }
});
afterAll(async () => {
  await h?.close();
});

/** Fails unless the operation documents `status`. */
function expectDocumented(method: string, path: string, status: number): void {
  const op = doc.paths[path]?.[method.toLowerCase()];
  expect(op, `${method} ${path} is documented`).toBeDefined();
  expect(Object.keys(op?.responses ?? {}), `${method} ${path} documents ${status}`).toContain(String(status));
}

describe("OpenAPI document for generators", () => {
  it("validates as OpenAPI 3.1, with servers", async () => {
    const result = await new Validator().validate(doc as never);
    expect(result.errors ?? []).toEqual([]);
    expect(result.valid).toBe(true);
    expect(doc.servers?.length).toBeGreaterThan(0);
  });

  it("gives every operation a unique operationId and security of its own", () => {
    expect(operations.length).toBeGreaterThan(20);
    const ids = operations.map(({ op }) => op.operationId);
    expect(ids.filter((id) => typeof id !== "string" || !/^[A-Za-z][A-Za-z0-9]*$/.test(id))).toEqual([]);
    expect(new Set(ids).size).toBe(ids.length);
    for (const { method, path, op } of operations) {
      expect(Array.isArray(op.security), `${method} ${path} security`).toBe(true);
    }
  });

  it("documents 400 and 500 everywhere and 401/403/429/503 on protected operations, as problem+json", () => {
    for (const { method, path, op } of operations) {
      const statuses = Object.keys(op.responses);
      const must = ["400", "500", ...(op.security?.length ? ["401", "403", "429", "503"] : [])];
      expect(statuses, `${method} ${path}`).toEqual(expect.arrayContaining(must));
      expect(
        statuses.filter((s) => /x/i.test(s)),
        `${method} ${path} has no status ranges`,
      ).toEqual([]);
      for (const status of must.filter((s) => s !== "503" || op.security?.length)) {
        const problem = op.responses[status]?.content?.["application/problem+json"];
        expect(problem?.schema, `${method} ${path} ${status} body`).toEqual({
          $ref: "#/components/schemas/Problem",
        });
        expect(problem?.example, `${method} ${path} ${status} example`).toMatchObject({
          status: Number(status),
        });
      }
    }
  });

  it("describes every response and declares x-request-id, Retry-After and WWW-Authenticate", () => {
    for (const { method, path, op } of operations) {
      for (const [status, response] of Object.entries(op.responses)) {
        const where = `${method} ${path} ${status}`;
        expect(response.description, where).toBeTruthy();
        expect(response.description, where).not.toBe("Default Response");
        expect(Object.keys(response.headers ?? {}), where).toContain("x-request-id");
        if (status === "429") expect(Object.keys(response.headers ?? {}), where).toContain("retry-after");
        if (status === "401")
          expect(Object.keys(response.headers ?? {}), where).toContain("www-authenticate");
      }
    }
  });

  it("declares the object headers and binary bodies of the object routes", () => {
    const object = doc.paths["/v1/buckets/{bucket}/objects/{key}"] as Record<string, Operation>;
    const names = (r: Response | undefined) => Object.keys(r?.headers ?? {});
    const described = ["etag", "last-modified", "x-version-id", "x-checksum-sha256", "x-meta-{name}"];
    expect(names(object.get?.responses["200"])).toEqual(expect.arrayContaining(described));
    expect(names(object.get?.responses["206"])).toContain("content-range");
    expect(names(object.get?.responses["416"])).toContain("content-range");
    expect(names(object.head?.responses["200"])).toEqual(expect.arrayContaining(described));
    expect(names(object.put?.responses["201"])).toEqual(expect.arrayContaining([...described, "location"]));
    expect(object.get?.responses["200"]?.content?.["application/octet-stream"]?.schema).toMatchObject({
      type: "string",
      format: "binary",
    });
    const params = (op: Operation | undefined) => op?.parameters?.map((p) => `${p.in}:${p.name}`) ?? [];
    expect(params(object.get)).toEqual(
      expect.arrayContaining([
        "header:range",
        "header:if-match",
        "header:if-none-match",
        "header:if-range",
        "header:x-user-id",
        "header:x-amz-server-side-encryption-customer-key",
      ]),
    );
    expect(params(object.put)).toEqual(
      expect.arrayContaining(["header:content-type", "header:if-match", "header:x-meta-{name}"]),
    );
  });

  it("documents what the running service answers", async () => {
    // Every protected operation, called without a key: 401, documented.
    for (const { method, path, op } of operations) {
      if (!op.security?.length) continue;
      const url = path.replace(/\{[^}]+\}/g, "x");
      const res = await fetch(`${h.base}${url}`, { method: method.toUpperCase() });
      await res.arrayBuffer();
      expect(res.status, `${method} ${path}`).toBe(401);
      expectDocumented(method, path, res.status);
    }
    const bucket = h.app.config.buckets.temp;
    const objectPath = "/v1/buckets/{bucket}/objects/{key}";
    const missing = await h.fetch(h.objectUrl(bucket, "openapi/missing.txt"));
    expectDocumented("GET", objectPath, missing.status);
    expect(missing.status).toBe(404);
    const put = await h.fetch(h.objectUrl(bucket, "openapi/a.txt"), { method: "PUT", body: "abc" });
    expectDocumented("PUT", objectPath, put.status);
    const range = await h.fetch(h.objectUrl(bucket, "openapi/a.txt"), { headers: { range: "bytes=10-20" } });
    expect(range.status).toBe(416);
    expectDocumented("GET", objectPath, range.status);
    const stale = await h.fetch(h.objectUrl(bucket, "openapi/a.txt"), { headers: { "if-match": '"nope"' } });
    expect(stale.status).toBe(412);
    expectDocumented("GET", objectPath, stale.status);
    const badSha = await h.fetch(h.objectUrl(bucket, "openapi/b.txt"), {
      method: "PUT",
      body: "abc",
      headers: { "x-checksum-sha256": "0".repeat(64) },
    });
    expectDocumented("PUT", objectPath, badSha.status);
    for (const res of [range, stale, badSha]) await res.arrayBuffer();
  });
});

describe("a client generated with openapi-typescript + openapi-fetch", () => {
  let dir: string;
  beforeAll(async () => {
    // Under the repository's tmp/, so the generated code resolves openapi-fetch from node_modules.
    await mkdir(join(ROOT, "tmp"), { recursive: true });
    dir = await mkdtemp(join(ROOT, "tmp", "openapi-client-"));
  });
  afterAll(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it("compiles and uploads and downloads an object", { timeout: 180_000 }, async () => {
    await writeFile(join(dir, "openapi.json"), JSON.stringify(doc));
    const gen = await run(
      NODE24,
      [join(ROOT, "node_modules/openapi-typescript/bin/cli.js"), "openapi.json", "-o", "schema.ts"],
      dir,
    );
    expect(gen, gen.stderr).toMatchObject({ code: 0 });
    await writeFile(
      join(dir, "roundtrip.ts"),
      `import createClient from "openapi-fetch";
import type { paths } from "./schema.ts";

const client = createClient<paths>({
  baseUrl: process.env.BASE_URL,
  headers: { authorization: \`Bearer \${process.env.TOKEN}\` },
});
const bucket = process.env.BUCKET ?? "";
const body = process.env.BODY ?? "";
const path = { bucket, key: "generated-client.txt" };
const put = await client.PUT("/v1/buckets/{bucket}/objects/{key}", {
  params: { path, header: { "content-type": "text/plain" } },
  body,
  bodySerializer: (b) => b,
});
if (put.error || !put.data) throw new Error(\`upload failed: \${put.response.status}\`);
const got = await client.GET("/v1/buckets/{bucket}/objects/{key}", { params: { path }, parseAs: "text" });
if (got.error) throw new Error(\`download failed: \${got.error.code}\`);
const missing = await client.GET("/v1/buckets/{bucket}/objects/{key}", {
  params: { path: { bucket, key: "missing.txt" } },
});
console.log(JSON.stringify({
  status: put.response.status,
  sha256: put.data.sha256,
  size: put.data.size,
  text: got.data,
  header: got.response.headers.get("x-checksum-sha256"),
  missing: missing.error?.code,
}));
`,
    );
    await writeFile(
      join(dir, "tsconfig.json"),
      JSON.stringify({
        compilerOptions: {
          module: "nodenext",
          target: "es2023",
          strict: true,
          noEmit: true,
          allowImportingTsExtensions: true,
          typeRoots: [join(ROOT, "node_modules/@types")],
          types: ["node"],
        },
        files: ["roundtrip.ts"],
      }),
    );
    const tsc = await run(NODE24, [join(ROOT, "node_modules/typescript/bin/tsc"), "-p", "."], dir);
    expect(tsc, tsc.stdout).toMatchObject({ code: 0 });

    const text = randomBytes(48).toString("base64");
    const trip = await run(NODE24, ["roundtrip.ts"], dir, {
      BASE_URL: h.base,
      TOKEN: h.token,
      BUCKET: h.app.config.buckets.temp,
      BODY: text,
    });
    expect(trip, trip.stderr).toMatchObject({ code: 0 });
    const sha256 = createHash("sha256").update(text).digest("hex");
    expect(JSON.parse(trip.stdout)).toEqual({
      status: 201,
      sha256,
      size: text.length,
      text,
      header: sha256,
      missing: "NOT_FOUND",
    });
  });
});
