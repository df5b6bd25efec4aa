import { randomBytes } from "node:crypto";
import { Readable } from "node:stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { AppContext } from "../../src/app.ts";
import { type AuditRecord, parseScope } from "../../src/security/index.ts";
import { parseToken } from "../../src/security/tokens.ts";
import { createTestApp, type TestApp } from "./app.ts";

/**
 * The authorization matrix, protocol-neutral: 3 API keys × 3 buckets × 6 actions, each cell the
 * expected allow/deny, written out by hand (never computed by the code under test). A protocol
 * plugs in with one function per action (MatrixCalls) and a way to start its server
 * (MatrixProtocol); `describeAuthMatrix` then runs every cell as a real call on a real server with
 * the shared MinIO behind it:
 *
 * - allowed cells succeed and do what they say (the bytes, the listing, a working URL, ...);
 * - denied cells fail with PERMISSION_DENIED, identically for an existing and a missing object,
 *   and change nothing: the store listing, the index and incomplete uploads are the same after;
 * - audit: a denied cell leaves exactly one PERMISSION_DENIED record, an allowed mutating one
 *   (write, delete, presign) one OK record, an allowed read or list none;
 * - no key, an unknown key, a malformed key or a revoked key is UNAUTHENTICATED on every action;
 * - `{user_id}` scopes bind the caller's user id (x-user-id) and nothing else.
 *
 * Every cell sets up what it relies on and asserts on its own, so one runs alone under
 * `vitest -t "writer on beta: delete"` and the cells pass in any order.
 *
 * A second protocol is one more test file:
 *
 *   describeAuthMatrix({
 *     name: "HTTP",
 *     statusOf: (code) => (code === "UNAUTHENTICATED" ? "401" : "403"),
 *     start: async (app) => ({ calls: { read, write, delete: del, list, presign, admin }, close }),
 *   });
 *
 * where each call maps the caller to `Authorization: Bearer <token>` (none when `token` is
 * undefined) and `x-user-id`, and reports refusals as { ok: false, code, status, message }.
 */

/** Issues an API key with these scopes (`bucket[/prefix]:actions`) and returns its token. */
export async function issueToken(
  app: Pick<AppContext, "security">,
  service: string,
  scopes: readonly string[],
  rateLimit?: number,
): Promise<string> {
  const issued = await app.security.keys.create({
    service,
    scopes: scopes.map(parseScope),
    ...(rateLimit === undefined ? {} : { rateLimit }),
  });
  return issued.token.reveal();
}

/** The public id in a token (`lss_<id>_<secret>`). */
export const keyIdOf = (token: string): string => parseToken(token)?.id ?? "";

/** A well-formed token of a key that does not exist. */
export const unknownToken = (): string =>
  `lss_${randomBytes(8).toString("hex")}_${randomBytes(32).toString("base64url")}`;

export const MATRIX_ACTIONS = ["read", "write", "delete", "list", "presign", "admin"] as const;
export type MatrixAction = (typeof MATRIX_ACTIONS)[number];
export const MATRIX_BUCKETS = ["alpha", "beta", "gamma"] as const;
export type MatrixBucket = (typeof MATRIX_BUCKETS)[number];
export const MATRIX_KEYS = ["reader", "writer", "gammaAdmin"] as const;
export type MatrixKey = (typeof MATRIX_KEYS)[number];

/** Each key's scopes, on the logical buckets (`bucket:actions`). */
export const KEY_SCOPES: Readonly<Record<MatrixKey, readonly string[]>> = {
  reader: ["alpha:read,list", "beta:list,presign"],
  writer: ["alpha:write", "beta:read,write,delete,list"],
  gammaAdmin: ["gamma:admin", "alpha:read,presign"],
};

const Y = true;
const N = false;
type Row = Readonly<Record<MatrixAction, boolean>>;
const row = (
  read: boolean,
  write: boolean,
  del: boolean,
  list: boolean,
  presign: boolean,
  admin: boolean,
): Row => ({
  read,
  write,
  delete: del,
  list,
  presign,
  admin,
});

/**
 * The expected answer of every cell. "presign" presigns a GET, which needs read as well: the
 * reader's presign on beta is denied although its scope names presign. "admin" implies the rest.
 */
export const EXPECTED: Readonly<Record<MatrixKey, Readonly<Record<MatrixBucket, Row>>>> = {
  // row(read, write, delete, list, presign, admin)
  reader: {
    alpha: row(Y, N, N, Y, N, N),
    beta: row(N, N, N, Y, N, N),
    gamma: row(N, N, N, N, N, N),
  },
  writer: {
    alpha: row(N, Y, N, N, N, N),
    beta: row(Y, Y, Y, Y, N, N),
    gamma: row(N, N, N, N, N, N),
  },
  gammaAdmin: {
    alpha: row(Y, N, N, N, Y, N),
    beta: row(N, N, N, N, N, N),
    gamma: row(Y, Y, Y, Y, Y, Y),
  },
};

/** Who calls: `token` undefined sends no credentials at all; `userId` is the user the call acts for. */
export interface Caller {
  token?: string;
  userId?: string;
}

export interface Target {
  bucket: string;
  key: string;
}

/** What a call came to. `code` is the service's stable error code, `status` the protocol's own (gRPC status name, HTTP status). */
export type Outcome =
  | { ok: true; body?: string; keys?: string[]; url?: string }
  | { ok: false; code: string; status: string; message: string };

/** One real call per action; each resolves with its outcome rather than throwing. */
export interface MatrixCalls {
  /** Fetch the object's bytes (`body`). */
  read(caller: Caller, target: Target): Promise<Outcome>;
  /** Store `body` at the target. */
  write(caller: Caller, target: Target, body: string): Promise<Outcome>;
  /** Delete the object (its latest version). */
  delete(caller: Caller, target: Target): Promise<Outcome>;
  /** List the keys under a prefix, recursively (`keys`). */
  list(caller: Caller, bucket: string, prefix: string): Promise<Outcome>;
  /** A presigned GET URL for the object (`url`). */
  presign(caller: Caller, target: Target): Promise<Outcome>;
  /**
   * An operation only `admin` allows, on the bucket; "implied" when the protocol has none, and
   * then each allowed admin cell asserts that admin implied the row's five other actions.
   */
  admin: ((caller: Caller, bucket: string) => Promise<Outcome>) | "implied";
}

export interface MatrixProtocol {
  name: string;
  /** The protocol's status for a stable code (gRPC: "PERMISSION_DENIED"; HTTP: "403"). */
  statusOf(code: "PERMISSION_DENIED" | "UNAUTHENTICATED"): string;
  /** Starts the protocol's server on the app. */
  start(app: TestApp): Promise<{ calls: MatrixCalls; close(): Promise<void> }>;
  /** Defaults to createTestApp("minio", { RATE_LIMIT_ENABLED: "false" }). */
  createApp?(): Promise<TestApp>;
}

/** What a suite can inspect after the matrix ran (filled in by its beforeAll). */
export interface MatrixContext {
  app: TestApp;
  tokens: Record<MatrixKey, string>;
  /** Real bucket names of the logical ones. */
  buckets: Record<MatrixBucket, string>;
  /** Every token issued, for log scans. */
  secrets: string[];
}

const PREFIX = "matrix/";
const FIXTURE = "matrix/existing.txt";
const FIXTURE_BODY = "the object every read cell reads";
const victim = (key: MatrixKey) => `matrix/victim-${key}.txt`;
const written = (key: MatrixKey) => `matrix/written-${key}.txt`;
const missing = () => `matrix/missing-${Math.random().toString(36).slice(2)}.txt`;

/** Everything a denied call could have changed: objects and versions in the store and the index, open multipart uploads. */
async function snapshot(app: TestApp, buckets: readonly string[]): Promise<string> {
  const parts: unknown[] = [];
  for (const bucket of buckets) {
    const stored = await app.store.list(bucket, { prefix: PREFIX });
    const indexed = await app.index.list(bucket, { prefix: PREFIX, limit: 1000 });
    const uploads = await app.store.listIncompleteUploads(bucket);
    parts.push({
      bucket,
      stored: stored.objects.map((o) => `${o.key}@${o.etag}`),
      indexed: indexed.objects.map((o) => `${o.key}@${o.versionId}`),
      uploads: uploads.map((u) => u.key),
    });
  }
  return JSON.stringify(parts);
}

const put = (app: TestApp, bucket: string, key: string, body: string) =>
  app.service.upload({ bucket, key, body: Readable.from([Buffer.from(body)]) });

/** Deletes the object if it is there. */
const remove = (app: TestApp, bucket: string, key: string) =>
  app.service.delete(bucket, key).then(
    () => undefined,
    (err: { code?: string }) => {
      if (err.code !== "NOT_FOUND") throw err;
    },
  );

const exists = (app: TestApp, bucket: string, key: string) =>
  app.service.stat(bucket, key).then(
    () => true,
    (err: { code?: string }) => {
      if (err.code === "NOT_FOUND") return false;
      throw err;
    },
  );

export function describeAuthMatrix(protocol: MatrixProtocol): MatrixContext {
  const ctx = { secrets: [] as string[] } as MatrixContext;
  let calls: MatrixCalls;
  let close: () => Promise<void>;

  /** What a caller learns from a refusal (the details echo the request, so they are left out). */
  const refusal = (outcome: Outcome) =>
    outcome.ok ? { code: "OK" } : { code: outcome.code, status: outcome.status, message: outcome.message };
  const expectDenied = (outcome: Outcome, code: "PERMISSION_DENIED" | "UNAUTHENTICATED") =>
    expect(refusal(outcome)).toMatchObject({ code, status: protocol.statusOf(code) });

  const auditOf = async (keyId: string): Promise<AuditRecord[]> =>
    ctx.app.security.audit.query({ keyId, limit: 10_000 });

  describe(`authorization matrix over ${protocol.name}`, () => {
    beforeAll(async () => {
      const app = await (protocol.createApp?.() ?? createTestApp("minio", { RATE_LIMIT_ENABLED: "false" }));
      ctx.app = app;
      const { buckets } = app.config;
      ctx.buckets = { alpha: buckets.userData, beta: buckets.temp, gamma: buckets.backups };
      const real = (scope: string) => {
        const colon = scope.indexOf(":");
        const logical = scope.slice(0, colon).split("/")[0] as MatrixBucket;
        return ctx.buckets[logical] + scope.slice(logical.length);
      };
      ctx.tokens = {} as Record<MatrixKey, string>;
      for (const key of MATRIX_KEYS) {
        ctx.tokens[key] = await issueToken(app, `matrix-${key.toLowerCase()}`, KEY_SCOPES[key].map(real));
        ctx.secrets.push(ctx.tokens[key]);
      }
      for (const bucket of Object.values(ctx.buckets)) {
        await put(app, bucket, FIXTURE, FIXTURE_BODY);
        for (const key of MATRIX_KEYS) await put(app, bucket, victim(key), `victim of ${key}`);
      }
      ({ calls, close } = await protocol.start(app));
    });
    afterAll(async () => {
      await close?.();
      await ctx.app?.dispose();
    });

    /** Makes one action's real call as `key` on `bucket`. */
    const perform = async (key: MatrixKey, bucket: string, action: MatrixAction) => {
      const caller = { token: ctx.tokens[key] };
      switch (action) {
        case "admin":
          if (calls.admin === "implied") throw new Error("the protocol has no admin call");
          return calls.admin(caller, bucket);
        case "read":
          return calls.read(caller, { bucket, key: FIXTURE });
        case "write":
          return calls.write(caller, { bucket, key: written(key) }, `written by ${key}`);
        case "delete":
          return calls.delete(caller, { bucket, key: victim(key) });
        case "list":
          return calls.list(caller, bucket, PREFIX);
        case "presign":
          return calls.presign(caller, { bucket, key: FIXTURE });
      }
    };

    /** The allowed outcome did what the action promises. */
    const expectDone = async (key: MatrixKey, bucket: string, action: MatrixAction, outcome: Outcome) => {
      expect(outcome, JSON.stringify(outcome)).toMatchObject({ ok: true });
      if (!outcome.ok) return;
      const app = ctx.app;
      if (action === "read") expect(outcome.body).toBe(FIXTURE_BODY);
      if (action === "write") expect(await exists(app, bucket, written(key))).toBe(true);
      if (action === "delete") expect(await exists(app, bucket, victim(key))).toBe(false);
      if (action === "list") expect(outcome.keys).toContain(FIXTURE);
      if (action === "presign") {
        const res = await fetch(outcome.url ?? "");
        expect(await res.text()).toBe(FIXTURE_BODY);
      }
    };

    /** The same refusal for a target that does not exist: a refusal must not reveal existence. */
    const missingTwin = (
      key: MatrixKey,
      bucket: string,
      action: MatrixAction,
    ): Promise<Outcome> | undefined => {
      const caller = { token: ctx.tokens[key] };
      const target = { bucket, key: missing() };
      if (action === "read") return calls.read(caller, target);
      if (action === "delete") return calls.delete(caller, target);
      if (action === "presign") return calls.presign(caller, target);
      if (action === "write") return calls.write(caller, { bucket, key: FIXTURE }, "overwrite attempt");
      return undefined;
    };

    const cells = MATRIX_KEYS.flatMap((key) =>
      MATRIX_BUCKETS.flatMap((bucket) =>
        MATRIX_ACTIONS.map((action) => ({ key, bucket, action, allowed: EXPECTED[key][bucket][action] })),
      ),
    );

    /**
     * What one action relies on, put in place by the cell itself so that it runs alone (`-t`) and
     * in any order: the victim a delete removes, and nothing where a write writes (so "it exists
     * after" means this call wrote it). The read fixtures come from beforeAll and no cell changes them.
     */
    const prepare = async (key: MatrixKey, bucket: string, action: MatrixAction) => {
      if (action === "delete") await put(ctx.app, bucket, victim(key), `victim of ${key}`);
      if (action === "write") await remove(ctx.app, bucket, written(key));
    };

    /** One real call as `key` on `bucket`, and everything it must have done, or not done. */
    const check = async (key: MatrixKey, logical: MatrixBucket, action: MatrixAction, allowed: boolean) => {
      const bucket = ctx.buckets[logical];
      await prepare(key, bucket, action);
      const before = await snapshot(ctx.app, Object.values(ctx.buckets));
      const keyId = keyIdOf(ctx.tokens[key]);
      const audited = (await auditOf(keyId)).length;
      const outcome = await perform(key, bucket, action);
      const records = (await auditOf(keyId)).slice(audited);

      if (allowed) {
        await expectDone(key, bucket, action, outcome);
        const mutating = action === "write" || action === "delete" || action === "presign";
        expect(records.map((r) => r.result)).toEqual(mutating ? ["OK"] : []);
        return;
      }
      expectDenied(outcome, "PERMISSION_DENIED");
      expect(records.map((r) => ({ result: r.result, bucket: r.bucket }))).toEqual([
        { result: "PERMISSION_DENIED", bucket },
      ]);
      const twin = await missingTwin(key, bucket, action);
      if (twin) expect(refusal(twin)).toEqual(refusal(outcome));
      expect(await snapshot(ctx.app, Object.values(ctx.buckets))).toBe(before);
    };

    // Plain names (it.each would quote them) so that `-t "writer on beta: delete"` finds one.
    for (const { key, bucket: logical, action, allowed } of cells) {
      it(`${key} on ${logical}: ${action} → ${allowed ? "allowed" : "denied"}`, async () => {
        if (action !== "admin" || calls.admin !== "implied") return check(key, logical, action, allowed);
        // No admin-only call on this protocol, so the admin cell makes the row's other calls itself.
        // Allowed: admin implies each of them. Denied: the key lacks admin, so what the row refuses
        // is refused (and changes nothing); a denied admin cell whose row refuses nothing would be
        // untestable here, hence the first assertion.
        const others = MATRIX_ACTIONS.filter((a) => a !== "admin");
        const checked = allowed ? others : others.filter((a) => !EXPECTED[key][logical][a]);
        expect(checked.length, "actions this cell can check").toBeGreaterThan(0);
        for (const other of checked) await check(key, logical, other, allowed);
      });
    }

    describe("without a valid key", () => {
      const actions = MATRIX_ACTIONS.filter((a) => a !== "admin");

      const attempt = (caller: Caller, action: (typeof actions)[number], bucket: string) => {
        const target = { bucket, key: FIXTURE };
        if (action === "read") return calls.read(caller, target);
        if (action === "write") return calls.write(caller, { bucket, key: "matrix/anonymous.txt" }, "x");
        if (action === "delete") return calls.delete(caller, target);
        if (action === "list") return calls.list(caller, bucket, PREFIX);
        return calls.presign(caller, target);
      };

      it.each(actions)(
        "%s is UNAUTHENTICATED with no key, an unknown, a malformed or a revoked key",
        async (action) => {
          const bucket = ctx.buckets.gamma;
          const revoked = await issueToken(ctx.app, "matrix-revoked", [`${bucket}:admin`]);
          ctx.secrets.push(revoked);
          await ctx.app.security.keys.revoke(keyIdOf(revoked));
          const before = await snapshot(ctx.app, Object.values(ctx.buckets));
          const callers: Caller[] = [{}, { token: unknownToken() }, { token: revoked }];
          if (action === "read") callers.push({ token: "not-an-api-key" });
          for (const caller of callers)
            expectDenied(await attempt(caller, action, bucket), "UNAUTHENTICATED");
          expect(await snapshot(ctx.app, Object.values(ctx.buckets))).toBe(before);
        },
      );
    });

    it("binds {user_id} to the caller's user id, and to nothing else", async () => {
      const bucket = ctx.buckets.alpha;
      const token = await issueToken(ctx.app, "matrix-per-user", [
        `${bucket}/users/{user_id}/:read,write,list`,
      ]);
      ctx.secrets.push(token);
      const alice = { token, userId: "alice" };
      const own = { bucket, key: "users/alice/notes.txt" };
      expect(await calls.write(alice, own, "alice's notes")).toMatchObject({ ok: true });
      expect(await calls.read(alice, own)).toMatchObject({ ok: true, body: "alice's notes" });
      expect(await calls.list(alice, bucket, "users/alice/")).toMatchObject({ ok: true, keys: [own.key] });

      const before = await snapshot(ctx.app, Object.values(ctx.buckets));
      const refused: Outcome[] = [
        await calls.write(alice, { bucket, key: "users/bob/notes.txt" }, "not alice's"),
        await calls.write({ token }, own, "no user id"),
        await calls.write({ token, userId: "bob" }, own, "bob over alice"),
        await calls.read({ token, userId: "bob" }, own),
        await calls.list(alice, bucket, "users/"),
        await calls.write({ token, userId: ".." }, { bucket, key: "users/../notes.txt" }, "escape"),
      ];
      for (const outcome of refused) expectDenied(outcome, "PERMISSION_DENIED");
      expect(await snapshot(ctx.app, Object.values(ctx.buckets))).toBe(before);
    });
  });

  return ctx;
}
