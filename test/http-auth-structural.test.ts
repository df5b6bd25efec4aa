import { createHash, randomBytes } from "node:crypto";
import { request as httpRequest } from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { AppContext } from "../src/app.ts";
import { type RegisteredRoute, registeredRoutes } from "../src/transports/http/route-policy.ts";
import { buildHttpApp } from "../src/transports/http/server.ts";
import { createTestApp } from "./support/app.ts";
import { type HttpHarness, keyPath, startHttp } from "./support/http.ts";
import { spellings } from "./support/path-spellings.ts";

/**
 * Authentication is decided by the route the router matched, never by how the URL is spelled.
 * This suite does not list the routes it attacks: it asks the app for every route it registered,
 * so a route added later is attacked too. Each one gets requests without a key, with a bogus key
 * and a malformed one, through many spellings of its path; every answer must be a refusal
 * (401, or 400/404 where the spelling itself is refused), and afterwards nothing has changed in
 * the store or the index.
 */

/** Responses that refuse; anything else means a handler ran for an unauthenticated caller. */
const REFUSALS = new Set([400, 401, 404]);

const SEED_KEY = "probe/a.txt";

interface Raw {
  status: number;
  contentType: string;
  body: string;
}

/**
 * One request over a real socket, with the target sent exactly as given (no normalisation). Each
 * attack may come from its own loopback address (all of 127/8 reaches the server), as a prober
 * spreading its attempts would, so per-address failure budgets do not answer before the route does.
 */
function raw(
  port: number,
  method: string,
  target: string,
  headers: Record<string, string>,
  body?: string,
  localAddress = "127.0.0.1",
) {
  return new Promise<Raw>((resolve, reject) => {
    const req = httpRequest(
      {
        host: "127.0.0.1",
        port,
        localAddress,
        method,
        path: target,
        headers: { ...headers, connection: "close" },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () =>
          resolve({
            status: res.statusCode ?? 0,
            contentType: String(res.headers["content-type"] ?? ""),
            body: Buffer.concat(chunks).toString("utf8"),
          }),
        );
        res.on("error", reject);
      },
    );
    req.on("error", reject);
    req.end(body);
  });
}

/** A concrete path for a route pattern: `:bucket` is the temp bucket, `*` the seeded key. */
function concretePath(route: RegisteredRoute, bucket: string): string {
  return route.url
    .split("/")
    .map((segment) => {
      if (segment === "*") return keyPath(SEED_KEY);
      if (segment === ":bucket") return bucket;
      if (segment.startsWith(":")) return "x";
      return segment;
    })
    .join("/");
}

/** Everything the store and the index hold in every configured bucket: key → etag/sha256. */
async function snapshot(app: AppContext): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const bucket of Object.values(app.config.buckets)) {
    if (!(await app.store.bucketExists(bucket))) continue;
    let cursor: string | undefined;
    do {
      const page = await app.store.list(bucket, { ...(cursor ? { cursor } : {}) });
      for (const o of page.objects) out[`store ${bucket}/${o.key}`] = o.etag;
      cursor = page.nextCursor;
    } while (cursor);
    cursor = undefined;
    do {
      const page = await app.service.list(bucket, { recursive: true, ...(cursor ? { cursor } : {}) });
      for (const o of page.objects) out[`index ${bucket}/${o.key}@${o.versionId}`] = o.sha256;
      cursor = page.nextCursor;
    } while (cursor);
  }
  return out;
}

async function inBatches<T>(items: T[], size: number, run: (item: T) => Promise<void>): Promise<void> {
  for (let i = 0; i < items.length; i += size) await Promise.all(items.slice(i, i + size).map(run));
}

describe.each(["minio", "local"] as const)(
  "every HTTP route refuses unauthenticated callers (%s)",
  (backend) => {
    let h: HttpHarness;
    let port: number;
    let routes: readonly RegisteredRoute[];
    const secret = `marker-${randomBytes(16).toString("hex")}`;
    let seedSha: string;

    beforeAll(async () => {
      // A large anonymous budget: this suite sends many refused calls from one address on purpose.
      h = await startHttp(backend, { RATE_LIMIT_REQUESTS: "10000000" });
      port = Number(new URL(h.base).port);
      routes = registeredRoutes(h.server.fastify);
      const res = await h.fetch(h.objectUrl(h.app.config.buckets.temp, SEED_KEY), {
        method: "PUT",
        headers: { "content-type": "text/plain" },
        body: secret,
      });
      expect(res.status).toBe(201);
      seedSha = createHash("sha256").update(secret).digest("hex");
    });

    afterAll(async () => {
      await h?.close();
    });

    it("knows the routes it serves, and each protected one names its operation", () => {
      const protectedRoutes = routes.filter((r) => !r.public);
      // Sanity: the table is the app's, not empty and not only probes.
      expect(protectedRoutes.length).toBeGreaterThanOrEqual(8);
      expect(routes.some((r) => r.public === "probe" && r.url === "/healthz")).toBe(true);
      // Admin operations are named as the CLI audits them (`keys.create`).
      for (const r of protectedRoutes) {
        expect(r.operation, `${r.method} ${r.url}`).toMatch(/^[a-z]+(?:[.-][a-z]+)*$/);
      }
      // Everything under /v1 except MinIO's webhook (own token) needs a key.
      const openApi = routes.filter((r) => r.public && r.url.startsWith("/v1"));
      expect(openApi.map((r) => r.url)).toEqual(openApi.map(() => "/v1/minio/audit"));
    });

    it("answers every spelling of every protected route with a refusal, and writes nothing", {
      timeout: 300_000,
    }, async () => {
      const before = await snapshot(h.app);
      const bucket = h.app.config.buckets.temp;
      const credentials: Array<Record<string, string>> = [
        {},
        { authorization: "Bearer lss_0000000000000000_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA" },
        { authorization: "Bearer not-a-key" },
        { authorization: "Basic dXNlcjpwYXNz" },
      ];
      const cases: Array<{ method: string; target: string; headers: Record<string, string>; from: string }> =
        [];
      for (const route of routes.filter((r) => !r.public)) {
        for (const [s, target] of spellings(concretePath(route, bucket)).entries()) {
          // Every spelling without a key (the attack), and the first three (canonical, %761, v%31)
          // with each kind of bad credential too: a well-formed unknown key costs a full scrypt run,
          // so all of them on every spelling would spend minutes proving the same thing.
          for (const [i, cred] of credentials.entries()) {
            if (s >= 3 && i > 0) continue;
            // A fresh, well-formed but unknown key id per request, so per-id failure budgets never answer first.
            const auth =
              i === 1
                ? { authorization: `Bearer lss_${randomBytes(8).toString("hex")}_${"A".repeat(43)}` }
                : cred;
            const n = cases.length;
            const from = `127.1.${Math.floor(n / 250) % 250}.${(n % 250) + 1}`;
            cases.push({ method: route.method, target, headers: auth, from });
          }
        }
      }
      const answers: string[] = [];
      await inBatches(cases, 16, async ({ method, target, headers, from }) => {
        const hasBody = method === "PUT" || method === "POST";
        const body = hasBody
          ? JSON.stringify({
              bucket,
              key: "pwn/x.txt",
              source: { bucket, key: SEED_KEY },
              target: { bucket, key: "pwn/copy.txt" },
              method: "PUT",
              prefix: "",
            })
          : undefined;
        const res = await raw(
          port,
          method,
          target,
          { ...headers, ...(hasBody ? { "content-type": "application/json" } : {}) },
          body,
          from,
        );
        const label = `${method} ${target} [${headers.authorization ?? "no key"}] -> ${res.status}`;
        if (!REFUSALS.has(res.status)) answers.push(`${label} ${res.body.slice(0, 300)}`);
        else if (res.body.includes(secret)) answers.push(`${label} leaked the object`);
        else if (method !== "HEAD" && !res.contentType.startsWith("application/problem+json")) {
          answers.push(`${label} as ${res.contentType}`);
        }
      });
      expect(answers).toEqual([]);
      // More than a handful of cases really ran (guards against an empty route table or spelling list).
      expect(cases.length).toBeGreaterThan(400);

      const after = await snapshot(h.app);
      expect(after).toEqual(before);
      const got = await h.fetch(h.objectUrl(bucket, SEED_KEY));
      expect(got.status).toBe(200);
      expect(
        createHash("sha256")
          .update(await got.text())
          .digest("hex"),
      ).toBe(seedSha);
    });

    it("refuses absolute-form targets with 400 even with a valid key", async () => {
      const path = `/v1/buckets/${h.app.config.buckets.temp}/objects/${keyPath(SEED_KEY)}`;
      const res = await raw(port, "GET", `http://127.0.0.1:${port}${path}`, {
        authorization: `Bearer ${h.token}`,
      });
      expect(res.status).toBe(400);
      expect(res.contentType).toMatch(/^application\/problem\+json/);
      expect(JSON.parse(res.body)).toMatchObject({ code: "INVALID_ARGUMENT" });
      expect(res.body).not.toContain(secret);
      // The same path in origin-form with the same key works: the refusal is about the form alone.
      const ok = await raw(port, "GET", path, { authorization: `Bearer ${h.token}` });
      expect(ok.status).toBe(200);
      expect(ok.body).toBe(secret);
    });

    it("keeps the public routes public", async () => {
      for (const path of ["/healthz", "/readyz", "/openapi.json", "/metrics", "/docs/json"]) {
        const res = await raw(port, "GET", path, {});
        expect(res.status, path).toBe(200);
      }
    });
  },
);

describe("a route without an access declaration", () => {
  let app: AppContext & { dispose(): Promise<void> };

  beforeAll(async () => {
    app = await createTestApp("local");
  });

  afterAll(async () => {
    await app?.dispose();
  });

  it("stops the app from starting", async () => {
    const fastify = await buildHttpApp(app);
    fastify.get("/v1/added-later", async () => ({ secret: "served open" }));
    await expect(fastify.ready()).rejects.toThrow(/\/v1\/added-later declares neither/);
    await fastify.close().catch(() => {});
  });

  it("starts when the new route declares access, and then refuses callers without a key", async () => {
    const fastify = await buildHttpApp(app);
    fastify.get(
      "/v1/added-later",
      { config: { access: { operation: "added-later", audited: false } } },
      async () => ({ secret: "served" }),
    );
    await fastify.ready();
    const res = await fastify.inject({ method: "GET", url: "/%761/added-later" });
    expect(res.statusCode).toBe(401);
    expect(res.body).not.toContain("served");
    expect(
      registeredRoutes(fastify).some((r) => r.url === "/v1/added-later" && r.operation === "added-later"),
    ).toBe(true);
    await fastify.close();
  });
});
