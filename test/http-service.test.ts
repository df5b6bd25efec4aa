import { Writable } from "node:stream";
import { Validator } from "@seriousme/openapi-schema-validator";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type AppContext, createApp } from "../src/app.ts";
import { type RegisteredRoute, registeredRoutes } from "../src/transports/http/route-policy.ts";
import { type HttpServer, startHttpServer } from "../src/transports/http/server.ts";
import { testConfig } from "./support/config.ts";
import { createKey, expectProblem, fetchWithKey, json, keyPath } from "./support/http.ts";

interface PromFamily {
  name: string;
  type: string;
  metrics: Array<{
    labels?: Record<string, string>;
    value?: string;
    count?: string;
    buckets?: Record<string, string>;
  }>;
}

// The package ships no types; its default export parses the Prometheus text format.
const { default: parsePrometheus } = (await import("parse-prometheus-text-format" as string)) as {
  default: (text: string) => PromFamily[];
};

/** Every operation the server implements; the OpenAPI document must list exactly these. */
const OPERATIONS = [
  "GET /healthz",
  "GET /readyz",
  "GET /metrics",
  "GET /openapi.json",
  "GET /v1/buckets/{bucket}/objects",
  "POST /v1/buckets/{bucket}/objects",
  "DELETE /v1/buckets/{bucket}/objects",
  "GET /v1/buckets/{bucket}/objects/{key}",
  "HEAD /v1/buckets/{bucket}/objects/{key}",
  "PUT /v1/buckets/{bucket}/objects/{key}",
  "POST /v1/buckets/{bucket}/objects/{key}",
  "DELETE /v1/buckets/{bucket}/objects/{key}",
  "POST /v1/copy",
  "POST /v1/credentials",
  "POST /v1/minio/audit",
  "POST /v1/presign",
  "POST /v1/presign-post",
  "POST /v1/uploads",
  "POST /v1/uploads/{id}/parts",
  "GET /v1/uploads/{id}",
  "POST /v1/uploads/{id}/complete",
  "DELETE /v1/uploads/{id}",
  "POST /v1/admin/keys",
  "GET /v1/admin/keys",
  "POST /v1/admin/keys/{id}/rotate",
  "DELETE /v1/admin/keys/{id}",
  "GET /v1/admin/audit",
  "POST /v1/admin/reconcile",
  "GET /v1/protos",
  "POST /v1/protos/{service}/versions/{version}",
  "GET /v1/protos/{service}/versions",
  "GET /v1/protos/{service}/versions/{version}",
  "GET /v1/protos/{service}/versions/{version}/files/{key}",
  "GET /v1/protos/{service}/versions/{version}/archive",
  "GET /v1/protos/{service}/diff",
  "GET /v1/protos/{service}/versions/{version}/definitions",
  "PUT /v1/protos/{service}/versions/{version}/generated/{language}/{key}",
  "PUT /v1/temp/{key}",
  "GET /v1/temp/{key}",
  "POST /v1/admin/temp/sweep",
  "POST /v1/users/{userId}/files/{filename}",
  "GET /v1/users/{userId}/files",
  "DELETE /v1/users/{userId}/files",
  "GET /v1/users/{userId}/files/{uploadId}/{filename}",
  "DELETE /v1/users/{userId}/files/{uploadId}/{filename}",
  "GET /v1/users/{userId}/usage",
  "PUT /v1/users/{userId}/quota",
  "PUT /v1/logs/{service}/{date}/{hour}/{filename}",
  "POST /v1/logs/{service}/append",
  "GET /v1/logs/{service}/{date}",
  "GET /v1/logs/{service}/{date}/objects",
  "POST /v1/logs/{service}/{date}/{hour}/compact",
  "POST /v1/logs/{service}/rotate",
  "GET /v1/config/documents",
  "GET /v1/config/documents/{key}",
  "PUT /v1/config/documents/{key}",
  "GET /v1/config/history/{key}",
  "GET /v1/config/diff/{key}",
  "POST /v1/config/rollback/{key}",
  "PUT /v1/config/schemas/{key}",
  "GET /v1/config/schemas/{key}",
  "GET /v1/flags/{flag}/evaluation",
  "GET /v1/models",
  "GET /v1/models/{type}/{ref}",
  "PUT /v1/models/{type}/{version}",
  "DELETE /v1/models/{type}/{version}",
  "PUT /v1/models/{type}/aliases/{alias}",
  "DELETE /v1/models/{type}/aliases/{alias}",
  "POST /v1/models/gc",
  "GET /v1/models/{type}/{ref}/files/{key}",
  "POST /v1/models/blobs",
  "POST /v1/models/blobs/uploads",
  "HEAD /v1/models/blobs/{sha256}",
  "GET /v1/stats",
  "GET /v1/buckets/{bucket}/usage",
  "GET /v1/admin/alerts",
  "POST /v1/admin/alerts/check",
].sort();

/**
 * "METHOD /path" for every route the server registered (route-policy.ts records each one as it is
 * added), in OpenAPI path syntax. Not printRoutes(): its tree loses routes that end in a wildcard
 * below a parametric segment (/v1/protos/:service/versions/:version/files/*).
 */
function serverOperations(routes: readonly RegisteredRoute[]): string[] {
  const out: string[] = [];
  const gets = new Set(routes.filter((r) => r.method === "GET").map((r) => r.url));
  for (const { method, url } of routes) {
    if (url.startsWith("/docs")) continue;
    const openapi = url.replace(/:(\w+)/g, "{$1}").replace(/\/\*$/, "/{key}");
    // HEAD routes derived from a GET are not documented; explicit ones (objects, model blobs) are.
    if (method === "HEAD" && gets.has(url) && !openapi.endsWith("{key}")) continue;
    out.push(`${method} ${openapi}`);
  }
  return [...new Set(out)].sort();
}

/** Service endpoints over MinIO: health, OpenAPI, docs, metrics, and request ids in the logs. */
describe("HTTP API: service endpoints", () => {
  let app: AppContext;
  let server: HttpServer;
  let base: string;
  let authed: typeof fetch;
  const logLines: Array<Record<string, unknown>> = [];

  beforeAll(async () => {
    const sink = new Writable({
      write(chunk: Buffer, _encoding, callback) {
        for (const line of chunk.toString().split("\n").filter(Boolean)) logLines.push(JSON.parse(line));
        callback();
      },
    });
    app = await createApp(
      testConfig({ HTTP_HOST: "127.0.0.1", HTTP_PORT: "0" }),
      pino({ level: "info" }, sink),
    );
    await app.bootstrap();
    authed = fetchWithKey(await createKey(app, "test-admin", ["*:admin"]));
    server = await startHttpServer(app);
    base = server.address;
  });
  afterAll(async () => {
    await server?.close();
    await app?.close();
  });

  it("answers /healthz and /readyz", async () => {
    expect(await json(await fetch(`${base}/healthz`))).toEqual({ status: "ok" });
    expect(await json(await fetch(`${base}/readyz`))).toEqual({
      status: "ready",
      backend: "minio",
      store: "ok",
      auth: "enabled",
    });
  });

  it("publishes an OpenAPI 3.1 document that validates and lists every route", async () => {
    const res = await fetch(`${base}/openapi.json`);
    expect(res.status).toBe(200);
    const spec = await json<{ openapi: string; paths: Record<string, Record<string, unknown>> }>(res);
    expect(spec.openapi).toMatch(/^3\.1\./);
    const validator = new Validator();
    const result = await validator.validate(spec as never);
    expect(result.errors ?? []).toEqual([]);
    expect(result.valid).toBe(true);
    const listed = Object.entries(spec.paths)
      .flatMap(([path, ops]) => Object.keys(ops).map((method) => `${method.toUpperCase()} ${path}`))
      .sort();
    expect(listed).toEqual(OPERATIONS);

    // And the server has no route beyond those (the docs pages aside; HEAD is implied by every GET).
    expect(serverOperations(registeredRoutes(server.fastify))).toEqual(OPERATIONS);

    // API keys: a bearer scheme required everywhere but on the open routes.
    const doc = spec as unknown as {
      components: { securitySchemes: Record<string, unknown> };
      security: unknown[];
      paths: Record<string, Record<string, { security?: unknown[] }>>;
    };
    expect(doc.components.securitySchemes.apiKey).toMatchObject({ type: "http", scheme: "bearer" });
    expect(doc.security).toEqual([{ apiKey: [] }]);
    for (const open of ["/healthz", "/readyz", "/metrics", "/openapi.json"]) {
      expect(doc.paths[open]?.get?.security, open).toEqual([]);
    }
    expect(doc.paths["/v1/minio/audit"]?.post?.security).toEqual([]);
    // Every keyed operation names its scheme itself (generators read it per operation).
    expect(doc.paths["/v1/copy"]?.post?.security).toEqual([{ apiKey: [] }]);

    const upload = spec.paths["/v1/buckets/{bucket}/objects/{key}"]?.put as {
      requestBody: { content: Record<string, unknown> };
      responses: Record<string, { content?: Record<string, unknown> }>;
    };
    expect(Object.keys(upload.requestBody.content)).toEqual(["*/*"]);
    // Error statuses are listed one by one (no 4XX placeholder), each as a problem document.
    expect(upload.responses["4XX"]).toBeUndefined();
    for (const status of ["400", "401", "403", "412", "413", "415", "429", "500"]) {
      expect(Object.keys(upload.responses[status]?.content ?? {}), status).toEqual([
        "application/problem+json",
      ]);
    }
  });

  it("serves the docs page", async () => {
    const res = await fetch(`${base}/docs`);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/text\/html/);
    expect(await res.text()).toMatch(/swagger/i);
  });

  it("exposes Prometheus metrics whose request, latency, byte and S3 series move with traffic", async () => {
    // The parser checks the whole exposition; it folds labelled histograms together, so histogram
    // samples are read from the text itself.
    const scrape = async () => {
      const res = await fetch(`${base}/metrics`);
      expect(res.headers.get("content-type")).toMatch(/^text\/plain/);
      const text = await res.text();
      return { families: parsePrometheus(text), text };
    };
    const sample = (scraped: { families: PromFamily[] }, name: string, labels: Record<string, string>) => {
      const family = scraped.families.find((f) => f.name === name);
      const metric = family?.metrics.find((m) =>
        Object.entries(labels).every(([k, v]) => m.labels?.[k] === v),
      );
      return Number(metric?.value ?? 0);
    };
    const histogramCount = (scraped: { text: string }, name: string, labels: Record<string, string>) => {
      for (const line of scraped.text.split("\n")) {
        const match = new RegExp(`^${name}_count\\{(.*)\\} (\\S+)$`).exec(line);
        if (!match) continue;
        const found = Object.fromEntries(
          [...(match[1] ?? "").matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1], m[2]]),
        );
        if (Object.entries(labels).every(([k, v]) => found[k] === v)) return Number(match[2]);
      }
      return 0;
    };
    const route = "/v1/buckets/:bucket/objects/*";
    const before = await scrape();
    const bucket = app.config.buckets.temp;
    const url = `${base}/v1/buckets/${bucket}/objects/${keyPath("metrics/one.txt")}`;
    expect((await authed(url, { method: "PUT", body: "x".repeat(5000) })).status).toBe(201);
    expect(await (await authed(url)).text()).toHaveLength(5000);
    await expectProblem(await authed(`${url}.missing`), 404, "NOT_FOUND");
    const after = await scrape();

    const requests = "lumenslate_storage_http_requests_total";
    expect(sample(after, requests, { method: "PUT", route, status: "201" })).toBe(
      sample(before, requests, { method: "PUT", route, status: "201" }) + 1,
    );
    expect(sample(after, requests, { method: "GET", route, status: "404" })).toBe(
      sample(before, requests, { method: "GET", route, status: "404" }) + 1,
    );
    const latency = "lumenslate_storage_http_request_duration_seconds";
    expect(after.families.find((f) => f.name === latency)?.type).toBe("HISTOGRAM");
    expect(histogramCount(after, latency, { method: "GET", route, status: "200" })).toBe(
      histogramCount(before, latency, { method: "GET", route, status: "200" }) + 1,
    );
    const bytesIn = "lumenslate_storage_http_request_bytes_total";
    const bytesOut = "lumenslate_storage_http_response_bytes_total";
    expect(
      sample(after, bytesIn, { method: "PUT", route }) - sample(before, bytesIn, { method: "PUT", route }),
    ).toBeGreaterThan(5000);
    expect(
      sample(after, bytesOut, { method: "GET", route }) - sample(before, bytesOut, { method: "GET", route }),
    ).toBeGreaterThan(5000);
    const s3 = "lumenslate_storage_backend_call_duration_seconds";
    const put = { operation: "PutObject", outcome: "ok" };
    expect(histogramCount(after, s3, put)).toBeGreaterThan(histogramCount(before, s3, put));
  });

  it("puts the request id in every log line of a request, in the problem body and the response header", async () => {
    const res = await authed(`${base}/v1/buckets/${app.config.buckets.temp}/objects/none.txt`, {
      headers: { "x-request-id": "log-check-42" },
    });
    expect(res.headers.get("x-request-id")).toBe("log-check-42");
    expect((await expectProblem(res, 404, "NOT_FOUND")).requestId).toBe("log-check-42");
    const mine = logLines.filter((line) => line.requestId === "log-check-42");
    // One access line (access-log.ts) with the route, path, status and error code.
    const access = mine.filter((line) => "route" in line);
    expect(access).toEqual([
      expect.objectContaining({
        method: "GET",
        route: "/v1/buckets/:bucket/objects/*",
        path: `/v1/buckets/${app.config.buckets.temp}/objects/none.txt`,
        status: 404,
        code: "NOT_FOUND",
      }),
    ]);
    const requestLines = logLines.filter((line) => "route" in line || line.msg === "request refused");
    expect(requestLines.length).toBeGreaterThan(3);
    for (const line of requestLines) expect(line.requestId).toEqual(expect.any(String));
  });
});
