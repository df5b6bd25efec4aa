import { readFile } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { parse as parseYaml } from "yaml";
import { type HttpServer, startHttpServer } from "../src/transports/http/server.ts";
import { uploadableBytes } from "./support/data.ts";
import { type GrpcHarness, LogCapture, startGrpc } from "./support/grpc.ts";
import { bearer, keyPath } from "./support/http.ts";
import { exposedNames, metricsIn, PROMETHEUS_BUILTINS, promtool } from "./support/promtool.ts";

/**
 * Metric names and the access log, on a running service (HTTP and gRPC) over the shared MinIO:
 * after known traffic, the scrape follows Prometheus' conventions (`promtool check metrics`), has
 * the per-bucket and refusal counters with the right values, and every metric that the Grafana
 * dashboard and the alert rules query exists in the service's or MinIO's scrape.
 */

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const DASHBOARD = join(ROOT, "deploy/grafana/lumenslate-storage.json");
const RULES = join(ROOT, "deploy/prometheus/alerts.yml");

/** A presigned-looking query whose values must never reach a log line. */
const SIGNATURE = "f00dfacecafe0123456789abcdef0123456789abcdef0123456789abcdef0123";
const CREDENTIAL = "AKIAEXAMPLESECRETID";

/** The value of one sample line (`name{labels} value`) whose labels include `labels`. */
function sample(scrape: string, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const line of scrape.split("\n")) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    const wanted = Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`));
    if (wanted) return Number(line.slice(line.lastIndexOf(" ") + 1));
  }
  return undefined;
}

describe("metrics and access logs of a running service", () => {
  const logs = new LogCapture();
  let g: GrpcHarness;
  let http: HttpServer;
  let base: string;
  let bucket: string;
  let scrape: string;
  let minioScrape: string;
  const key = "reports/2026/q1 summary.bin";
  const body = uploadableBytes(64 * 1024);

  beforeAll(async () => {
    g = await startGrpc({ logs, env: { HTTP_HOST: "127.0.0.1", HTTP_PORT: "0" } });
    http = await startHttpServer(g.app);
    base = http.address;
    bucket = g.app.config.buckets.temp;
    const admin = bearer(g.adminToken);
    const url = (k: string, query = "") => `${base}/v1/buckets/${bucket}/objects/${keyPath(k)}${query}`;

    // HTTP: an upload and a download of a known size, a read with a presigned-looking query.
    const put = await fetch(url(key), { method: "PUT", headers: admin, body });
    expect(put.status).toBe(201);
    const got = await fetch(url(key), { headers: admin });
    expect((await got.arrayBuffer()).byteLength).toBe(body.length);
    await (
      await fetch(url(key, `?X-Amz-Signature=${SIGNATURE}&X-Amz-Credential=${CREDENTIAL}`), {
        headers: admin,
      })
    ).arrayBuffer();
    // A bucket nobody configured is counted as "other".
    await (await fetch(`${base}/v1/buckets/not-configured-zz/objects/a.txt`, { headers: admin })).text();
    // Refusals: no key, a bad key, a key outside its scope, a key past its rate limit.
    await (await fetch(url(key))).text();
    await (await fetch(url(key), { headers: bearer("lss_0000000000000000_notavalidsecretatall") })).text();
    const narrow = await g.issue("narrow", [`${g.app.config.buckets.userData}:read`], 2);
    for (let i = 0; i < 4; i++) await (await fetch(url(key), { headers: bearer(narrow) })).text();

    // gRPC: an upload and a download to the same bucket.
    await g.client.upload(body, { bucket, objectName: "grpc/one.bin" });
    const download = await g.client.downloadStream({ bucket, objectName: "grpc/one.bin" });
    for await (const _ of download.stream) {
      // drain
    }

    // A gRPC call with a bad key (refused before its handler: no bucket is known yet).
    const bad = g.connect({ token: "lss_0000000000000000_notavalidsecretatall" });
    await expect(bad.stat({ bucket, objectName: "grpc/one.bin" })).rejects.toMatchObject({
      code: "UNAUTHENTICATED",
    });

    scrape = await (await fetch(`${base}/metrics`)).text();
    minioScrape = await (await fetch(`${inject("minio").endpoint}/minio/v2/metrics/cluster`)).text();
  });

  afterAll(async () => {
    await http?.close();
    await g?.close();
  });

  it("uses Node's standard names, the service prefix for its own, and _total only on counters", async () => {
    expect(scrape).toMatch(/^process_cpu_seconds_total /m);
    expect(scrape).toMatch(/^process_resident_memory_bytes /m);
    expect(scrape).toMatch(/^nodejs_eventloop_lag_seconds /m);
    expect(scrape).not.toMatch(/lumenslate_storage_process_/);
    for (const match of scrape.matchAll(/^# TYPE (\S+) (\S+)$/gm)) {
      const [, name = "", type] = match;
      if (type !== "counter") expect(name, `${type} ${name}`).not.toMatch(/_total$/);
      if (!/^(process|nodejs)_/.test(name)) expect(name).toMatch(/^lumenslate_storage_/);
    }
    const check = await promtool(["check", "metrics"], scrape);
    expect(check.output).toBe("");
    expect(check.code).toBe(0);
  });

  it("counts requests and bytes per configured bucket on both protocols, others as one series", () => {
    const requests = "lumenslate_storage_bucket_requests_total";
    const bytes = "lumenslate_storage_bucket_transfer_bytes_total";
    // 1 put + 2 gets with the admin key (the refused calls count too: 1 + 1 + 4).
    expect(sample(scrape, requests, { bucket, protocol: "http" })).toBe(9);
    expect(sample(scrape, requests, { bucket: "other", protocol: "http" })).toBe(1);
    expect(sample(scrape, requests, { bucket, protocol: "grpc" })).toBe(2);
    // Wire bytes (headers included) for HTTP; the object's bytes exactly for gRPC.
    expect(sample(scrape, bytes, { bucket, protocol: "http", direction: "in" })).toBeGreaterThan(body.length);
    expect(sample(scrape, bytes, { bucket, protocol: "http", direction: "out" })).toBeGreaterThan(
      2 * body.length,
    );
    expect(sample(scrape, bytes, { bucket, protocol: "grpc", direction: "in" })).toBe(body.length);
    expect(sample(scrape, bytes, { bucket, protocol: "grpc", direction: "out" })).toBe(body.length);
  });

  it("counts authentication failures by reason and rate-limit refusals", () => {
    const failures = "lumenslate_storage_auth_failures_total";
    expect(sample(scrape, failures, { protocol: "http", reason: "missing_credentials" })).toBe(1);
    expect(sample(scrape, failures, { protocol: "http", reason: "invalid_credentials" })).toBe(1);
    // The narrow key: two calls refused by scope, then two by its rate limit (2 per window).
    expect(sample(scrape, failures, { protocol: "http", reason: "permission_denied" })).toBe(2);
    expect(sample(scrape, "lumenslate_storage_rate_limited_total", { protocol: "http" })).toBe(2);
    expect(sample(scrape, failures, { protocol: "grpc", reason: "invalid_credentials" })).toBe(1);
  });

  it("writes one access line per request with route, path, bucket, status, bytes, duration and id", () => {
    const lines = logs.lines.filter((l) => l.route === "/v1/buckets/:bucket/objects/*" && l.method === "PUT");
    expect(lines).toHaveLength(1);
    const line = lines[0] ?? {};
    expect(line).toMatchObject({
      level: 30,
      path: `/v1/buckets/${bucket}/objects/${keyPath(key)}`,
      bucket,
      status: 201,
      caller: "test-admin",
    });
    expect(line.bytesIn).toBeGreaterThan(body.length);
    expect(line.bytesOut).toBeGreaterThan(0);
    expect(typeof line.durationMs).toBe("number");
    expect(line.requestId).toMatch(/^[0-9a-f-]{36}$/);
    expect(String(line.msg)).toContain(`PUT /v1/buckets/${bucket}/objects/`);
  });

  it("keeps the path but not the secrets of a presigned query string", () => {
    const signed = logs.lines.find((l) => typeof l.query === "string" && l.query.includes("X-Amz-Signature"));
    expect(signed?.path).toBe(`/v1/buckets/${bucket}/objects/${keyPath(key)}`);
    expect(signed?.query).toBe("X-Amz-Signature=[redacted]&X-Amz-Credential=[redacted]");
    expect(logs.raw.join("")).not.toContain(SIGNATURE);
    expect(logs.raw.join("")).not.toContain(CREDENTIAL);
    logs.expectNoSecrets(g.secrets);
    // No line of Fastify's own request logging, which carried the raw URL.
    expect(logs.lines.filter((l) => l.msg === "incoming request" || l.msg === "request completed")).toEqual(
      [],
    );
  });

  it("logs gRPC calls with method, bucket, code, duration and request id", () => {
    const upload = logs.lines.find((l) => l.msg === "grpc call" && String(l.method).endsWith("/UploadFile"));
    expect(upload).toMatchObject({ bucket, code: "OK", bytesIn: body.length });
    expect(upload?.requestId).toMatch(/^[0-9a-f-]{36}$/);
    expect(typeof upload?.durationMs).toBe("number");
  });

  it("exposes MinIO's cluster metrics without a token in the test MinIO (as in the Compose files)", () => {
    expect(minioScrape).toMatch(/^minio_cluster_drive_offline_total/m);
    expect(minioScrape).toMatch(/^minio_cluster_capacity_usable_free_bytes/m);
  });

  it("the dashboard parses and every metric its panels query is exported by the service or MinIO", async () => {
    const dashboard = JSON.parse(await readFile(DASHBOARD, "utf8")) as {
      panels: { title: string; type: string; targets?: { expr: string }[] }[];
    };
    const rows = dashboard.panels.filter((p) => p.type === "row").map((p) => p.title.split(":")[0]);
    expect(rows).toEqual([
      "Traffic",
      "Errors",
      "Latency",
      "S3 calls",
      "Bucket usage and growth",
      "Alerts firing",
    ]);
    const exposed = new Set([...exposedNames(scrape), ...exposedNames(minioScrape), ...PROMETHEUS_BUILTINS]);
    const queried = dashboard.panels.flatMap((p) => (p.targets ?? []).flatMap((t) => metricsIn(t.expr)));
    expect(queried.length).toBeGreaterThan(30);
    expect([...new Set(queried)].filter((name) => !exposed.has(name))).toEqual([]);
  });

  it("the alert rules pass promtool and query only metrics the service or MinIO export", async () => {
    const check = await promtool(["check", "rules", RULES]);
    expect(check.output).toMatch(/SUCCESS: \d+ rules found/);
    expect(check.code).toBe(0);
    const rules = parseYaml(await readFile(RULES, "utf8")) as { groups: { rules: { expr: string }[] }[] };
    const exposed = new Set([...exposedNames(scrape), ...exposedNames(minioScrape), ...PROMETHEUS_BUILTINS]);
    const queried = rules.groups.flatMap((group) => group.rules.flatMap((rule) => metricsIn(rule.expr)));
    expect(queried).toContain("minio_cluster_drive_offline_total");
    expect(queried).toContain("lumenslate_storage_bucket_bytes");
    expect([...new Set(queried)].filter((name) => !exposed.has(name))).toEqual([]);
  });
});
