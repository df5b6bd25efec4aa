import { randomUUID } from "node:crypto";
import { Readable } from "node:stream";
import { credentials, Metadata, type ServiceError, status } from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import type { AuditRecord } from "../src/security/index.ts";
import { storageProto } from "../src/transports/grpc/definition.ts";
import type { AdminServiceClient } from "../src/transports/grpc/generated/lumenslate/storage/v1/AdminService.ts";
import { type HttpServer, startHttpServer } from "../src/transports/http/server.ts";
import { type OwnDatabase, ownDatabase } from "./support/database.ts";
import { failure, type GrpcHarness, keyIdOf, startGrpc, unknownToken } from "./support/grpc.ts";
import { bearer, expectProblem, jsonPost, keyPath } from "./support/http.ts";

/**
 * The admin API (keys, audit, reconcile) over HTTP (/v1/admin/...) and gRPC (AdminService), on
 * real sockets, both servers on one app whose every log line is captured. It needs `*:admin`:
 * no key is 401/UNAUTHENTICATED, a data key or an admin key on one bucket is 403/PERMISSION_DENIED.
 * Every change is audited once under the caller's key, and no token reaches a record or a log line.
 */

const ADMIN_ROUTES = [
  { method: "POST", path: "/v1/admin/keys", body: { service: "probe", scopes: ["*:admin"] } },
  { method: "GET", path: "/v1/admin/keys" },
  { method: "POST", path: "/v1/admin/keys/0000000000000000/rotate" },
  { method: "DELETE", path: "/v1/admin/keys/0000000000000000" },
  { method: "GET", path: "/v1/admin/audit?since=1h" },
  { method: "POST", path: "/v1/admin/reconcile", body: { repair: true } },
] as const;

const GRPC_METHODS = {
  CreateKey: { service: "probe", scopes: ["*:admin"] },
  ListKeys: {},
  RotateKey: { id: "0000000000000000" },
  RevokeKey: { id: "0000000000000000" },
  QueryAudit: {},
  Reconcile: { repair: true },
} as const;

type Outcome<T> =
  | { ok: true; value: T }
  | { ok: false; code: status; errorCode: string | undefined; message: string };

interface ApiKeyJson {
  id: string;
  service: string;
  scopes: string[];
  rateLimit: number | null;
  createdAt: string;
  rotatedAt: string | null;
  revokedAt: string | null;
}

describe("admin API over HTTP and gRPC", () => {
  let db: OwnDatabase;
  let h: GrpcHarness;
  let http: HttpServer;
  let base: string;
  let admin: AdminServiceClient;
  let temp: string;
  let adminId: string;
  /** Keys refused on every admin call: a data key, and an admin key on one bucket only. */
  let refused: Record<string, string>;

  beforeAll(async () => {
    db = await ownDatabase("admin_api");
    h = await startGrpc({
      env: { ...db.env, HTTP_HOST: "127.0.0.1", HTTP_PORT: "0", RATE_LIMIT_ENABLED: "false" },
    });
    http = await startHttpServer(h.app);
    base = http.address;
    temp = h.app.config.buckets.temp;
    adminId = keyIdOf(h.adminToken);
    refused = {
      data: await h.issue("data-svc", [`${temp}:read,write,delete,list`]),
      bucketAdmin: await h.issue("bucket-admin", [`${temp}:admin`]),
      prefixAdmin: await h.issue("prefix-admin", ["*/some/:admin"]),
    };
    const Admin = storageProto().lumenslate.storage.v1.AdminService;
    admin = new Admin(h.address, credentials.createInsecure());
  });

  afterAll(async () => {
    admin?.close();
    await http?.close();
    await h?.close();
    await db?.drop();
    h?.logs.expectNoSecrets([...(h?.secrets ?? []), inject("minio").secretKey]);
  });

  const api = (path: string, init: RequestInit & { token?: string | null } = {}) => {
    const { token = h.adminToken, ...rest } = init;
    const headers = new Headers(rest.headers);
    if (token) headers.set("authorization", `Bearer ${token}`);
    return fetch(`${base}${path}`, { ...rest, headers });
  };

  /** Records the call left, found by its request id. */
  const recordsOf = async (requestId: string | null): Promise<AuditRecord[]> =>
    (await h.app.security.audit.query({ limit: 10_000 })).filter((r) => r.requestId === requestId);

  const expectAuditedOnce = async (requestId: string | null, action: string, details: object) => {
    const records = await recordsOf(requestId);
    expect(records).toHaveLength(1);
    expect(records[0]).toMatchObject({
      keyId: adminId,
      service: "test-admin",
      action,
      result: "OK",
      details,
    });
  };

  const putObject = (token: string, key: string) =>
    fetch(`${base}/v1/buckets/${temp}/objects/${keyPath(key)}`, {
      method: "PUT",
      headers: { ...bearer(token), "content-type": "text/plain" },
      body: "hello",
    });

  function grpc<T>(
    method: keyof typeof GRPC_METHODS,
    request: object,
    token?: string | null,
    requestId?: string,
  ) {
    const metadata = new Metadata();
    if (token !== null) metadata.set("authorization", `Bearer ${token ?? h.adminToken}`);
    if (requestId) metadata.set("x-request-id", requestId);
    const fn = (admin as unknown as Record<string, (...args: unknown[]) => unknown>)[method] as (
      ...args: unknown[]
    ) => unknown;
    return new Promise<Outcome<T>>((resolve) => {
      fn.call(admin, request, metadata, (err: ServiceError | null, value: T) =>
        resolve(
          err
            ? {
                ok: false,
                code: err.code,
                errorCode: err.metadata?.get("x-error-code")[0]?.toString(),
                message: err.details,
              }
            : { ok: true, value },
        ),
      );
    });
  }

  describe("refusals", () => {
    it("answers every HTTP admin route 401 without a key or with an unknown one, and 403 to other keys", async () => {
      const keysBefore = await h.app.security.keys.list({ includeRevoked: true });
      for (const route of ADMIN_ROUTES) {
        const init = (token: string | null) => ({
          method: route.method,
          token,
          ...("body" in route ? jsonPost(route.body) : {}),
        });
        await expectProblem(await api(route.path, init(null)), 401, "UNAUTHENTICATED");
        const stranger = unknownToken();
        h.secrets.push(stranger);
        await expectProblem(await api(route.path, init(stranger)), 401, "UNAUTHENTICATED");
        for (const [who, token] of Object.entries(refused)) {
          const res = await api(route.path, init(token));
          expect({ route: route.path, who, status: res.status }).toEqual({
            route: route.path,
            who,
            status: 403,
          });
          await expectProblem(res, 403, "PERMISSION_DENIED");
        }
      }
      // Nothing was created, rotated or revoked by the refused calls.
      expect(await h.app.security.keys.list({ includeRevoked: true })).toEqual(keysBefore);
    });

    it("refuses every AdminService method UNAUTHENTICATED without a key and PERMISSION_DENIED to other keys", async () => {
      const keysBefore = await h.app.security.keys.list({ includeRevoked: true });
      for (const [method, request] of Object.entries(GRPC_METHODS) as [keyof typeof GRPC_METHODS, object][]) {
        expect(await grpc(method, request, null)).toMatchObject({ ok: false, code: status.UNAUTHENTICATED });
        for (const [who, token] of Object.entries(refused)) {
          const outcome = await grpc(method, request, token);
          expect({ method, who, outcome }).toMatchObject({
            method,
            who,
            outcome: { ok: false, code: status.PERMISSION_DENIED, errorCode: "PERMISSION_DENIED" },
          });
        }
      }
      expect(await h.app.security.keys.list({ includeRevoked: true })).toEqual(keysBefore);
    });

    it("audits each refusal once, with the refused key", async () => {
      const requestId = `refused-${randomUUID()}`;
      await grpc("CreateKey", GRPC_METHODS.CreateKey, refused.bucketAdmin, requestId);
      const records = await recordsOf(requestId);
      expect(records).toHaveLength(1);
      expect(records[0]).toMatchObject({
        keyId: keyIdOf(refused.bucketAdmin as string),
        action: "keys.create",
        result: "PERMISSION_DENIED",
      });
    });
  });

  describe("HTTP", () => {
    let created: { key: ApiKeyJson; token: string };

    it("creates a key whose token works at once, audited under the caller", async () => {
      const res = await api(
        "/v1/admin/keys",
        jsonPost({ service: "http-made", scopes: [`${temp}:read,write`], rateLimit: 50 }),
      );
      expect(res.status).toBe(201);
      expect(res.headers.get("cache-control")).toBe("no-store");
      created = (await res.json()) as typeof created;
      h.secrets.push(created.token);
      expect(created.key).toEqual({
        id: keyIdOf(created.token),
        service: "http-made",
        scopes: [`${temp}:read,write`],
        rateLimit: 50,
        createdAt: expect.stringMatching(/^\d{4}-\d{2}-\d{2}T/),
        rotatedAt: null,
        revokedAt: null,
      });
      await expectAuditedOnce(res.headers.get("x-request-id"), "keys.create", {
        targetKeyId: created.key.id,
        targetService: "http-made",
      });
      expect((await putObject(created.token, "admin-api/http.txt")).status).toBe(201);
      // Its scopes hold: it may not write elsewhere, nor manage keys.
      await expectProblem(
        await fetch(`${base}/v1/buckets/${h.app.config.buckets.logs}/objects/x.txt`, {
          method: "PUT",
          headers: bearer(created.token),
          body: "x",
        }),
        403,
        "PERMISSION_DENIED",
      );
      await expectProblem(await api("/v1/admin/keys", { token: created.token }), 403, "PERMISSION_DENIED");
    });

    it("refuses a bad key request with 400 and creates nothing", async () => {
      const before = (await h.app.security.keys.list({ includeRevoked: true })).length;
      await expectProblem(
        await api("/v1/admin/keys", jsonPost({ service: "x", scopes: ["nope"] })),
        400,
        "INVALID_ARGUMENT",
      );
      await expectProblem(
        await api("/v1/admin/keys", jsonPost({ service: "Bad Name", scopes: ["*:read"] })),
        400,
        "INVALID_ARGUMENT",
      );
      await expectProblem(
        await api("/v1/admin/keys", jsonPost({ service: "x", scopes: [] })),
        400,
        "INVALID_ARGUMENT",
      );
      await expectProblem(
        await api("/v1/admin/keys", jsonPost({ service: "x", scopes: ["*:read"], rateLimit: 0 })),
        400,
        "INVALID_ARGUMENT",
      );
      expect((await h.app.security.keys.list({ includeRevoked: true })).length).toBe(before);
    });

    it("lists keys as `keys list --json` shows them, never a secret", async () => {
      const res = await api("/v1/admin/keys");
      expect(res.status).toBe(200);
      const text = await res.text();
      const { keys } = JSON.parse(text) as { keys: ApiKeyJson[] };
      expect(keys.find((k) => k.id === created.key.id)).toEqual(created.key);
      expect(keys.map((k) => k.id)).toContain(adminId);
      expect(text).not.toMatch(/lss_/);
    });

    it("rotates: the old token is refused at once, the new one works", async () => {
      const res = await api(`/v1/admin/keys/${created.key.id}/rotate`, { method: "POST" });
      expect(res.status).toBe(200);
      const rotated = (await res.json()) as { key: ApiKeyJson; token: string };
      h.secrets.push(rotated.token);
      expect(rotated.key).toMatchObject({
        id: created.key.id,
        rotatedAt: expect.any(String),
        revokedAt: null,
      });
      expect(rotated.token).not.toBe(created.token);
      await expectAuditedOnce(res.headers.get("x-request-id"), "keys.rotate", {
        targetKeyId: created.key.id,
      });
      await expectProblem(await putObject(created.token, "admin-api/old.txt"), 401, "UNAUTHENTICATED");
      expect((await putObject(rotated.token, "admin-api/new.txt")).status).toBe(201);
      created = rotated;
    });

    it("revokes: the token is refused at once; list hides it unless all=true", async () => {
      const res = await api(`/v1/admin/keys/${created.key.id}`, { method: "DELETE" });
      expect(res.status).toBe(200);
      const { key } = (await res.json()) as { key: ApiKeyJson };
      expect(key).toMatchObject({ id: created.key.id, revokedAt: expect.any(String) });
      await expectAuditedOnce(res.headers.get("x-request-id"), "keys.revoke", {
        targetKeyId: created.key.id,
        targetService: "http-made",
      });
      await expectProblem(await putObject(created.token, "admin-api/revoked.txt"), 401, "UNAUTHENTICATED");
      const active = (await (await api("/v1/admin/keys")).json()) as { keys: ApiKeyJson[] };
      expect(active.keys.map((k) => k.id)).not.toContain(key.id);
      const all = (await (await api("/v1/admin/keys?all=true")).json()) as { keys: ApiKeyJson[] };
      expect(all.keys.find((k) => k.id === key.id)).toEqual(key);
      // Rotating a revoked key is refused; an unknown id is 404; a token in place of an id is 400.
      await expectProblem(
        await api(`/v1/admin/keys/${key.id}/rotate`, { method: "POST" }),
        412,
        "PRECONDITION_FAILED",
      );
      await expectProblem(
        await api("/v1/admin/keys/0000000000000000", { method: "DELETE" }),
        404,
        "NOT_FOUND",
      );
      await expectProblem(
        await api(`/v1/admin/keys/${encodeURIComponent(created.token)}`, { method: "DELETE" }),
        400,
        "INVALID_ARGUMENT",
      );
    });

    it("queries the audit trail with the CLI's filters", async () => {
      const query = (qs: string) => api(`/v1/admin/audit?${qs}`);
      const mine = (await (await query(`key=${adminId}&since=1h`)).json()) as {
        records: Record<string, unknown>[];
      };
      expect(mine.records.length).toBeGreaterThanOrEqual(3);
      for (const r of mine.records) {
        expect(r.keyId).toBe(adminId);
        expect(typeof r.time).toBe("string");
      }
      expect(mine.records.map((r) => r.action)).toEqual(
        expect.arrayContaining(["keys.create", "keys.rotate", "keys.revoke"]),
      );
      const one = (await (await query(`key=${adminId}&limit=1`)).json()) as { records: unknown[] };
      expect(one.records).toHaveLength(1);
      const future = (await (await query(`since=${encodeURIComponent("2999-01-01T00:00:00Z")}`)).json()) as {
        records: unknown[];
      };
      expect(future.records).toEqual([]);
      const minio = (await (await query("source=minio")).json()) as { records: unknown[] };
      expect(minio.records).toEqual([]);
      const inBucket = (await (await query(`bucket=${temp}`)).json()) as { records: { bucket: string }[] };
      expect(inBucket.records.length).toBeGreaterThan(0);
      for (const r of inBucket.records) expect(r.bucket).toBe(temp);
      await expectProblem(await query("since=yesterday"), 400, "INVALID_ARGUMENT");
      await expectProblem(await query("source=s3"), 400, "INVALID_ARGUMENT");
      await expectProblem(await query("limit=0"), 400, "INVALID_ARGUMENT");
    });

    it("reports planted drift on a dry run (not audited), then adopts it with repair (audited)", async () => {
      const key = `admin-api/stray-http-${randomUUID()}.txt`;
      await h.app.store.put(temp, key, Readable.from([Buffer.from("stray")]), {
        contentType: "text/plain",
        metadata: {},
      });
      const dry = await api("/v1/admin/reconcile", jsonPost({ buckets: [temp] }));
      expect(dry.status).toBe(200);
      const { reports } = (await dry.json()) as { reports: Record<string, unknown>[] };
      expect(reports).toEqual([
        expect.objectContaining({
          bucket: temp,
          objectsWithoutRows: [key],
          rowsWithoutObjects: [],
          orphans: 1,
          repaired: 0,
        }),
      ]);
      expect(await recordsOf(dry.headers.get("x-request-id"))).toEqual([]);
      expect(await h.app.index.find(temp, key)).toBeUndefined();

      const repair = await api("/v1/admin/reconcile", jsonPost({ buckets: [temp], repair: true }));
      expect(repair.status).toBe(200);
      const repaired = (await repair.json()) as { reports: Record<string, unknown>[] };
      expect(repaired.reports).toEqual([
        expect.objectContaining({ bucket: temp, objectsWithoutRows: [key], repaired: 1 }),
      ]);
      expect(await h.app.index.find(temp, key)).toMatchObject({ size: 5, owner: "reconcile" });
      await expectAuditedOnce(repair.headers.get("x-request-id"), "reconcile", {
        repair: true,
        buckets: temp,
        repaired: 1,
      });

      // No body: every default, a dry run over every configured bucket that exists.
      const defaults = await api("/v1/admin/reconcile", { method: "POST" });
      expect(defaults.status).toBe(200);
      const all = (await defaults.json()) as { reports: { bucket: string; repaired: number }[] };
      expect(all.reports.map((r) => r.bucket)).toContain(temp);
      for (const r of all.reports) expect(r.repaired).toBe(0);
      await expectProblem(
        await api("/v1/admin/reconcile", jsonPost({ deleteUnindexed: true })),
        400,
        "INVALID_ARGUMENT",
      );
      await expectProblem(
        await api("/v1/admin/reconcile", jsonPost({ buckets: ["Not A Bucket"] })),
        400,
        "INVALID_ARGUMENT",
      );
    });

    it("documents every admin route in the OpenAPI document", async () => {
      const doc = (await (await fetch(`${base}/openapi.json`)).json()) as {
        paths: Record<
          string,
          Record<string, { summary?: string; tags?: string[]; responses?: Record<string, unknown> }>
        >;
      };
      const expected = [
        ["/v1/admin/keys", "post", "201", "createKey"],
        ["/v1/admin/keys", "get", "200", "listKeys"],
        ["/v1/admin/keys/{id}/rotate", "post", "200", "rotateKey"],
        ["/v1/admin/keys/{id}", "delete", "200", "revokeKey"],
        ["/v1/admin/audit", "get", "200", "queryAudit"],
        ["/v1/admin/reconcile", "post", "200", "reconcile"],
      ] as const;
      for (const [path, method, code, name] of expected) {
        const op = doc.paths[path]?.[method];
        expect(op, `${method} ${path}`).toBeDefined();
        expect(op?.tags).toEqual(["admin"]);
        expect(op?.summary).toMatch(new RegExp(`^${name}: `));
        expect(op?.responses?.[code]).toBeDefined();
      }
      expect(JSON.stringify(doc.paths["/v1/admin/keys"]?.post?.responses?.["201"])).toContain("token");
    });
  });

  describe("gRPC AdminService", () => {
    it("creates, lists, rotates and revokes keys, each change audited under the caller", async () => {
      const requestId = (step: string) => `grpc-${step}-${randomUUID()}`;
      const createId = requestId("create");
      const made = await grpc<{
        key: { id: string; service: string; scopes: string[]; rateLimit?: number };
        token: string;
      }>("CreateKey", { service: "grpc-made", scopes: [`${temp}:read,write`] }, undefined, createId);
      if (!made.ok) throw new Error(`CreateKey failed: ${made.message}`);
      h.secrets.push(made.value.token);
      const id = made.value.key.id;
      expect(made.value.key).toMatchObject({
        id: keyIdOf(made.value.token),
        service: "grpc-made",
        scopes: [`${temp}:read,write`],
      });
      expect(made.value.key.rateLimit).toBeUndefined();
      await expectAuditedOnce(createId, "keys.create", { targetKeyId: id, targetService: "grpc-made" });

      // The new token works at once on StorageService.
      const client = h.connect({ token: made.value.token });
      await client.upload("hi", { bucket: temp, objectName: "admin-api/grpc.txt" });

      const listed = await grpc<{ keys: { id: string }[] }>("ListKeys", {});
      expect(listed.ok && listed.value.keys.map((k) => k.id)).toContain(id);

      const rotateId = requestId("rotate");
      const rotated = await grpc<{ key: { id: string; rotatedAt?: object }; token: string }>(
        "RotateKey",
        { id },
        undefined,
        rotateId,
      );
      if (!rotated.ok) throw new Error(`RotateKey failed: ${rotated.message}`);
      h.secrets.push(rotated.value.token);
      expect(rotated.value.key.rotatedAt).toBeDefined();
      await expectAuditedOnce(rotateId, "keys.rotate", { targetKeyId: id });
      expect(
        (await failure(client.upload("again", { bucket: temp, objectName: "admin-api/old.txt" }))).code,
      ).toBe("UNAUTHENTICATED");
      const fresh = h.connect({ token: rotated.value.token });
      await fresh.upload("new", { bucket: temp, objectName: "admin-api/new-grpc.txt" });

      const revokeId = requestId("revoke");
      const revoked = await grpc<{ key: { id: string; revokedAt?: object } }>(
        "RevokeKey",
        { id },
        undefined,
        revokeId,
      );
      expect(revoked.ok && revoked.value.key.revokedAt).toBeTruthy();
      await expectAuditedOnce(revokeId, "keys.revoke", { targetKeyId: id, targetService: "grpc-made" });
      expect(
        (await failure(fresh.upload("gone", { bucket: temp, objectName: "admin-api/gone.txt" }))).code,
      ).toBe("UNAUTHENTICATED");
      const active = await grpc<{ keys: { id: string }[] }>("ListKeys", {});
      expect(active.ok && active.value.keys.map((k) => k.id)).not.toContain(id);
      const all = await grpc<{ keys: { id: string }[] }>("ListKeys", { includeRevoked: true });
      expect(all.ok && all.value.keys.map((k) => k.id)).toContain(id);
    });

    it("refuses bad requests with INVALID_ARGUMENT and never echoes a token", async () => {
      const stray = unknownToken();
      h.secrets.push(stray);
      for (const [method, request] of [
        ["RevokeKey", { id: stray }],
        ["RotateKey", { id: stray }],
        ["CreateKey", { service: "x", scopes: ["*:read"], rateLimit: 0 }],
        ["CreateKey", { service: "x", scopes: ["no-colon"] }],
        ["QueryAudit", { since: "yesterday" }],
        ["QueryAudit", { source: "s3" }],
        ["Reconcile", { deleteUnindexed: true }],
      ] as const) {
        const outcome = await grpc(method, request);
        expect({ method, outcome }).toMatchObject({
          method,
          outcome: { ok: false, code: status.INVALID_ARGUMENT },
        });
        if (!outcome.ok) expect(outcome.message).not.toContain(stray.slice(21));
      }
      await expect(grpc("RotateKey", { id: "0000000000000000" })).resolves.toMatchObject({
        code: status.NOT_FOUND,
      });
    });

    it("queries the audit trail with filters", async () => {
      const mine = await grpc<{
        records: { keyId?: string; action: string; time: object; detailsJson: string }[];
      }>("QueryAudit", { keyId: adminId, since: "1h" });
      if (!mine.ok) throw new Error(mine.message);
      expect(mine.value.records.length).toBeGreaterThan(0);
      for (const r of mine.value.records) {
        expect(r.keyId).toBe(adminId);
        expect(r.time).toBeDefined();
        expect(JSON.parse(r.detailsJson)).toBeTypeOf("object");
      }
      const limited = await grpc<{ records: unknown[] }>("QueryAudit", { keyId: adminId, limit: 2 });
      expect(limited.ok && limited.value.records).toHaveLength(2);
      const none = await grpc<{ records: unknown[] }>("QueryAudit", { since: "2999-01-01T00:00:00Z" });
      expect(none.ok && none.value.records).toEqual([]);
    });

    it("reconciles: a dry run reports planted drift, a repair adopts it and is audited", async () => {
      const key = `admin-api/stray-grpc-${randomUUID()}.txt`;
      await h.app.store.put(temp, key, Readable.from([Buffer.from("stray!")]), {
        contentType: "text/plain",
        metadata: {},
      });
      const dryId = `grpc-dry-${randomUUID()}`;
      const dry = await grpc<{ reports: Record<string, unknown>[] }>(
        "Reconcile",
        { buckets: [temp] },
        undefined,
        dryId,
      );
      expect(dry.ok && dry.value.reports).toEqual([
        expect.objectContaining({ bucket: temp, objectsWithoutRows: [key], orphans: 1, repaired: 0 }),
      ]);
      expect(await recordsOf(dryId)).toEqual([]);
      const repairId = `grpc-repair-${randomUUID()}`;
      const repaired = await grpc<{ reports: Record<string, unknown>[] }>(
        "Reconcile",
        { buckets: [temp], repair: true },
        undefined,
        repairId,
      );
      expect(repaired.ok && repaired.value.reports).toEqual([
        expect.objectContaining({ bucket: temp, objectsWithoutRows: [key], repaired: 1 }),
      ]);
      expect(await h.app.index.find(temp, key)).toMatchObject({ size: 6, owner: "reconcile" });
      await expectAuditedOnce(repairId, "reconcile", { repair: true, buckets: temp, repaired: 1 });
    });
  });

  it("keeps every token out of every audit record", async () => {
    const records = JSON.stringify(await h.app.security.audit.query({ limit: 10_000 }));
    expect(records.length).toBeGreaterThan(1000);
    for (const token of h.secrets) {
      expect(records).not.toContain(token);
      expect(records).not.toContain(token.slice(21));
    }
  });
});
