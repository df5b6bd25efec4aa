import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { bearer, expectProblem, type HttpHarness, json, jsonPost, startHttp } from "./support/http.ts";

/**
 * /v1/config and /v1/flags over real sockets on the shared MinIO: YAML and JSON puts, the broken
 * document refused with line and column (nothing stored), history, diff, rollback, schemas,
 * flag evaluation, and scopes on the config bucket per document name (with audit of the puts).
 */

interface VersionJson {
  name: string;
  version: number;
  format: string;
  author: string;
  restoredFrom?: number;
}

describe("config and flags over HTTP (MinIO)", () => {
  let h: HttpHarness;
  const url = (path: string) => `${h.base}/v1${path}`;
  const bucket = () => h.app.config.buckets.config;
  const putDoc = (name: string, body: string, type = "application/yaml", token?: string, query = "") =>
    h.fetch(url(`/config/documents/${name}${query}`), {
      method: "PUT",
      headers: { "content-type": type, ...(token ? bearer(token) : {}) },
      body,
    });

  beforeAll(async () => {
    h = await startHttp("minio");
  });

  afterAll(async () => {
    await h?.close();
  });

  it("refuses broken YAML with line and column, and stores nothing", async () => {
    const res = await putDoc("billing/broken", "a: 1\nb: [1, 2\nc: 3\n");
    const problem = await expectProblem(res, 400, "INVALID_ARGUMENT");
    expect(problem.details).toMatchObject({ line: 3, column: 1 });
    await expectProblem(await h.fetch(url("/config/documents/billing/broken")), 404, "NOT_FOUND");
  });

  it("puts three versions, diffs them and rolls back to the first", async () => {
    const name = "billing/settings";
    const v1 = await json<VersionJson>(await putDoc(name, "retries: 3\nregion: eu\n"));
    expect(v1).toMatchObject({ name, version: 1, format: "yaml", author: "test-admin" });
    expect((await putDoc(name, "retries: 4\nregion: eu\n")).status).toBe(201);
    expect((await putDoc(name, '{"retries": 5}', "application/json")).status).toBe(201);

    const diff = await json<Record<string, unknown>>(await h.fetch(url(`/config/diff/${name}?from=1&to=3`)));
    expect(diff).toMatchObject({
      changed: [{ path: "/retries", from: 3, to: 5 }],
      removed: [{ path: "/region", from: "eu" }],
      added: [],
    });

    const rolled = await h.fetch(url(`/config/rollback/${name}`), jsonPost({ version: 1 }));
    expect(rolled.status).toBe(201);
    expect(await json<VersionJson>(rolled)).toMatchObject({ version: 4, restoredFrom: 1 });

    const latest = await json<{ version: number; value: unknown; source: string }>(
      await h.fetch(url(`/config/documents/${name}`)),
    );
    expect(latest).toMatchObject({
      version: 4,
      value: { retries: 3, region: "eu" },
      source: "retries: 3\nregion: eu\n",
    });
    const second = await json<{ value: unknown }>(await h.fetch(url(`/config/documents/${name}?version=2`)));
    expect(second.value).toEqual({ retries: 4, region: "eu" });

    const history = await json<{ versions: VersionJson[] }>(await h.fetch(url(`/config/history/${name}`)));
    expect(history.versions.map((v) => v.version)).toEqual([1, 2, 3, 4]);
    const names = await json<{ names: string[] }>(await h.fetch(url("/config/documents")));
    expect(names.names).toContain(name);
  });

  it("refuses a document over CONFIG_MAX_DOCUMENT_BYTES with 413", async () => {
    const big = `a: "${"x".repeat(h.app.config.configStore.maxDocumentBytes)}"\n`;
    await expectProblem(await putDoc("big/doc", big), 413, "TOO_LARGE");
    await expectProblem(await h.fetch(url("/config/history/big/doc")), 404, "NOT_FOUND");
  });

  it("refuses a stale expectedVersion with 412", async () => {
    await putDoc("cas/doc", "a: 1\n", "application/yaml", undefined, "?expectedVersion=0");
    const res = await putDoc("cas/doc", "a: 2\n", "application/yaml", undefined, "?expectedVersion=0");
    await expectProblem(res, 412, "PRECONDITION_FAILED");
  });

  it("checks documents against a schema put beside them", async () => {
    const schema = '{"type": "object", "properties": {"port": {"type": "integer"}}}';
    const put = await h.fetch(url("/config/schemas/svc/net"), {
      method: "PUT",
      headers: { "content-type": "application/json" },
      body: schema,
    });
    expect(put.status).toBe(200);
    const refused = await expectProblem(await putDoc("svc/net", "port: eighty\n"), 400, "INVALID_ARGUMENT");
    expect(refused.detail).toMatch(/\/port must be integer/);
    expect((await putDoc("svc/net", "port: 80\n")).status).toBe(201);
    const got = await json<{ schema: unknown }>(await h.fetch(url("/config/schemas/svc/net")));
    expect(got.schema).toEqual(JSON.parse(schema));
  });

  it("evaluates a flag, and sees a change at once", async () => {
    await putDoc("flags/dark-mode", "enabled: true\nrollout: 0\nallow: [alice]\n");
    const evaluate = async (subject: string) =>
      json<{ enabled: boolean; reason: string; version: number }>(
        await h.fetch(url(`/flags/dark-mode/evaluation?subject=${subject}`)),
      );
    expect(await evaluate("alice")).toMatchObject({ enabled: true, reason: "allowed", version: 1 });
    expect(await evaluate("bob")).toMatchObject({ enabled: false, reason: "not-in-rollout" });
    await putDoc("flags/dark-mode", "enabled: true\nrollout: 100\n");
    expect(await evaluate("bob")).toMatchObject({ enabled: true, reason: "rollout", version: 2 });
    await expectProblem(await h.fetch(url("/flags/nope/evaluation?subject=x")), 404, "NOT_FOUND");
  });

  it("confines a key to its names, and refuses other formats", async () => {
    const token = await h.createKey("billing-svc", [
      `${bucket()}/billing/:read,write`,
      `${bucket()}/flags/:read`,
    ]);
    expect((await putDoc("billing/limits", "max: 1\n", "application/yaml", token)).status).toBe(201);
    await expectProblem(
      await putDoc("search/limits", "max: 1\n", "application/yaml", token),
      403,
      "PERMISSION_DENIED",
    );
    await expectProblem(
      await h.fetch(url("/config/history/search/limits"), { headers: bearer(token) }),
      403,
      "PERMISSION_DENIED",
    );
    await expectProblem(
      await putDoc("flags/dark-mode", "enabled: false\n", "application/yaml", token),
      403,
      "PERMISSION_DENIED",
    );
    await expectProblem(await putDoc("billing/limits", "max: 1", "text/csv"), 415, "UNSUPPORTED_TYPE");
  });

  it("audits puts and rollbacks", async () => {
    const rows = await h.app.security.audit.query({ bucket: h.app.config.buckets.config, limit: 10_000 });
    const of = (action: string) =>
      rows.filter((r) => r.action === action && r.key === "billing/settings/").map((r) => r.result);
    expect(of("config.put")).toEqual(["OK", "OK", "OK"]);
    expect(of("config.rollback")).toEqual(["OK"]);
    // A refused put is audited too, with its code.
    expect(
      rows.some(
        (r) => r.action === "config.put" && r.key === "search/limits/" && r.result === "PERMISSION_DENIED",
      ),
    ).toBe(true);
  });
});
