import { mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { sql } from "kysely";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ConfigError } from "../src/config/config.ts";
import { StorageError } from "../src/errors.ts";
import { type Database, openDatabase } from "../src/metadata/database.ts";
import { KeyStore } from "../src/security/api-keys.ts";
import { AuditLog } from "../src/security/audit.ts";
import { createSecurity } from "../src/security/index.ts";
import { parseScope } from "../src/security/scopes.ts";
import { parseToken } from "../src/security/tokens.ts";
import { createTestApp } from "./support/app.ts";
import { runCli, textSink } from "./support/cli.ts";
import { testEnv } from "./support/config.ts";
import { type OwnDatabase, ownDatabase } from "./support/database.ts";

/**
 * API keys and the audit table on a real database: embedded PGlite always, and the PostgreSQL
 * server too when DATABASE_URL is set (CI), each PostgreSQL part on a database of its own (see
 * ownDatabase) so that no other suite's keys are in sight. The KeyStore uses its real (slow) hash here.
 */

type Target = "PGlite" | "PostgreSQL";
const targets: Target[] = process.env.DATABASE_URL ? ["PGlite", "PostgreSQL"] : ["PGlite"];

/** A fresh database on the target (in-memory PGlite, or a PostgreSQL database of its own). */
async function freshDatabase(target: Target, label: string): Promise<OwnDatabase> {
  if (target === "PGlite") {
    return {
      kind: "PGlite",
      env: { DATABASE_URL: "", PGLITE_DATA_DIR: "memory://" },
      settings: { url: undefined, pgliteDir: "memory://" },
      drop: async () => {},
    };
  }
  return ownDatabase(label);
}

async function codeOf(run: () => Promise<unknown>): Promise<string | undefined> {
  try {
    await run();
  } catch (err) {
    if (err instanceof StorageError) return err.code;
    throw err;
  }
  return undefined;
}

const unique = () => Math.random().toString(36).slice(2, 10);

describe.each(targets)("KeyStore on %s", (target) => {
  let database: OwnDatabase;
  let db: Database;
  let keys: KeyStore;

  beforeAll(async () => {
    database = await freshDatabase(target, "keystore");
    db = await openDatabase(database.settings);
    keys = new KeyStore(db);
  });
  afterAll(async () => {
    await db?.destroy();
    await database?.drop();
  });

  it("creates a key whose secret is stored only as a salted scrypt hash", async () => {
    const issued = await keys.create({
      service: "billing",
      scopes: [parseScope("user-data/users/{user_id}:read,write"), parseScope("temp:write")],
    });
    const token = issued.token.reveal();
    const parsed = parseToken(token);
    expect(parsed?.id).toBe(issued.key.id);
    expect(String(issued.token)).toBe("[redacted]");
    expect(JSON.stringify(issued)).not.toContain(parsed?.secret);
    expect(issued.key).toMatchObject({
      service: "billing",
      scopes: [
        { bucket: "user-data", prefix: "users/{user_id}/", actions: ["read", "write"] },
        { bucket: "temp", prefix: "", actions: ["write"] },
      ],
      rateLimit: null,
      revokedAt: null,
    });
    const { rows } = await sql<{ secret_hash: string }>`
      select secret_hash from api_keys where id = ${issued.key.id}`.execute(db);
    expect(rows[0]?.secret_hash).toMatch(/^scrypt\$16384\$8\$1\$/);
    expect(rows[0]?.secret_hash).not.toContain(parsed?.secret);
    expect((await keys.verify(token))?.id).toBe(issued.key.id);
    expect(await keys.verify(`${token.slice(0, -1)}${token.endsWith("A") ? "B" : "A"}`)).toBeUndefined();
  });

  it("lists live keys (never hashes), revokes and rotates", async () => {
    const a = await keys.create({
      service: `svc-${unique()}`,
      scopes: [parseScope("temp:read")],
      rateLimit: 10,
    });
    const b = await keys.create({ service: `svc-${unique()}`, scopes: [parseScope("logs:write")] });
    expect((await keys.list()).map((k) => k.id)).toEqual(expect.arrayContaining([a.key.id, b.key.id]));
    expect(JSON.stringify(await keys.list())).not.toMatch(/scrypt/);

    const revoked = await keys.revoke(a.key.id);
    expect(revoked.revokedAt).toBeInstanceOf(Date);
    expect((await keys.revoke(a.key.id)).revokedAt?.getTime()).toBe(revoked.revokedAt?.getTime());
    expect(await keys.verify(a.token.reveal())).toBeUndefined();
    expect((await keys.list()).map((k) => k.id)).not.toContain(a.key.id);
    expect((await keys.list({ includeRevoked: true })).map((k) => k.id)).toContain(a.key.id);
    expect(await codeOf(() => keys.rotate(a.key.id))).toBe("PRECONDITION_FAILED");

    const rotated = await keys.rotate(b.key.id);
    expect(rotated.key.id).toBe(b.key.id);
    expect(rotated.key.rotatedAt).toBeInstanceOf(Date);
    expect(rotated.token.reveal()).not.toBe(b.token.reveal());
    expect(await keys.verify(b.token.reveal())).toBeUndefined();
    expect((await keys.verify(rotated.token.reveal()))?.scopes).toEqual(b.key.scopes);

    expect(await codeOf(() => keys.revoke("zzzzzzzzzzzzzzzz"))).toBe("NOT_FOUND");
    expect(await codeOf(() => keys.rotate("zzzzzzzzzzzzzzzz"))).toBe("NOT_FOUND");
    expect(await keys.get("not-an-id")).toBeUndefined();
  });

  it("refuses bad input", async () => {
    expect(await codeOf(() => keys.create({ service: "Bad Name", scopes: [parseScope("temp:read")] }))).toBe(
      "INVALID_ARGUMENT",
    );
    expect(await codeOf(() => keys.create({ service: "ok", scopes: [] }))).toBe("INVALID_ARGUMENT");
    expect(
      await codeOf(() => keys.create({ service: "ok", scopes: [parseScope("temp:read")], rateLimit: 0 })),
    ).toBe("INVALID_ARGUMENT");
  });

  it("keeps the audit trail append-only, in the database itself", async () => {
    const audit = new AuditLog(db);
    const bucket = `audit-${unique()}`;
    await audit.record({ action: "upload", bucket, key: "a.txt", result: "OK", keyId: "k1", bytes: 12 });
    await audit.record({ action: "delete", bucket, key: "a.txt", result: "PERMISSION_DENIED", keyId: "k2" });
    const records = await audit.query({ bucket });
    expect(records.map((r) => [r.action, r.result, r.keyId, r.bytes])).toEqual([
      ["upload", "OK", "k1", 12],
      ["delete", "PERMISSION_DENIED", "k2", null],
    ]);
    expect(await audit.query({ bucket, keyId: "k2" })).toHaveLength(1);
    expect(await audit.query({ bucket, since: new Date(Date.now() + 60_000) })).toHaveLength(0);
    expect(await audit.query({ bucket, limit: 1 })).toHaveLength(1);
    await expect(
      sql`update audit_events set result = 'OK' where bucket = ${bucket}`.execute(db),
    ).rejects.toThrow(/append-only/);
    await expect(sql`delete from audit_events where bucket = ${bucket}`.execute(db)).rejects.toThrow(
      /append-only/,
    );
    expect(await audit.query({ bucket })).toHaveLength(2);
  });
});

describe.each(targets)("the first-start admin key on %s", (target) => {
  it("is created once, even by concurrent starts, and never again", async () => {
    const database = await freshDatabase(target, "first_admin");
    const db = await openDatabase(database.settings);
    try {
      const keys = new KeyStore(db, { scrypt: { N: 1024, r: 8, p: 1 } });
      const results = await Promise.all([1, 2, 3].map(() => keys.ensureBootstrapAdmin()));
      const issued = results.filter((r) => r !== undefined);
      expect(issued).toHaveLength(1);
      const admin = issued[0];
      expect(admin?.key).toMatchObject({
        service: "admin",
        scopes: [{ bucket: "*", prefix: "", actions: ["admin"] }],
      });
      expect(await keys.ensureBootstrapAdmin()).toBeUndefined();
      await keys.revoke(admin?.key.id as string);
      // Revoking every key must not resurrect an admin on the next start.
      expect(await keys.ensureBootstrapAdmin()).toBeUndefined();
    } finally {
      await db.destroy();
      await database.drop();
    }
  });
});

describe("security.start", () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "lumenslate-start-"));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  /**
   * A local app on a fresh database (its own PostgreSQL database when DATABASE_URL is set, else
   * in-memory PGlite: the first start must find no key), and security deps with a cheap hash and a
   * captured log.
   */
  async function fresh(keyFile: string) {
    const log = { text: "" };
    const logger = pino(
      { level: "info" },
      textSink((s) => {
        log.text += s;
      }),
    );
    const database = await ownDatabase("security_start");
    const created = await createTestApp("local", {
      ...database.env,
      AUDIT_EXPORT_INTERVAL: "off",
      AUTH_BOOTSTRAP_KEY_FILE: keyFile,
    });
    const app = {
      ...created,
      dispose: async () => {
        await created.dispose();
        await database.drop();
      },
    };
    const deps = {
      config: app.config,
      db: app.db,
      service: app.service,
      logger,
      scrypt: { N: 1024, r: 8, p: 1 },
    };
    return { app, deps, log };
  }

  it("writes the first admin key once to a 0600 key file and names the file, never the token; warns loudly when disabled", async () => {
    const keyFile = join(dir, "first", "admin-key");
    const { app, deps, log } = await fresh(keyFile);
    try {
      const printed: string[] = [];
      await createSecurity(deps).start({ announce: (text) => printed.push(text) });
      expect(printed).toHaveLength(1);
      expect(printed[0]).toContain(keyFile);
      const token = (await readFile(keyFile, "utf8")).trim();
      const parsed = parseToken(token);
      expect(parsed).toBeDefined();
      expect(printed[0]).not.toContain(parsed?.secret);
      expect(printed[0]).not.toMatch(/lss_/);
      expect((await stat(keyFile)).mode & 0o777).toBe(0o600);
      expect(log.text).toContain(parsed?.id);
      expect(log.text).not.toContain(parsed?.secret);
      const security = createSecurity(deps);
      expect((await security.authenticate(`Bearer ${token}`, "127.0.0.1")).scopes).toEqual([
        { bucket: "*", prefix: "", actions: ["admin"] },
      ]);
      // The next start finds a key: it prints nothing and leaves the file alone.
      await security.start({ announce: (text) => printed.push(text) });
      expect(printed).toHaveLength(1);
      expect((await readFile(keyFile, "utf8")).trim()).toBe(token);

      const open = createSecurity({
        ...deps,
        config: { ...app.config, auth: { ...app.config.auth, disabled: true } },
      });
      const warned: string[] = [];
      await open.start({ announce: (text) => warned.push(text) });
      expect(warned).toEqual([expect.stringMatching(/AUTHENTICATION IS DISABLED/)]);
      expect(open.warnings()).toHaveLength(1);
      expect((await open.authenticate(undefined, "x")).authDisabled).toBe(true);
    } finally {
      await app.dispose();
    }
  });

  it("shows the token on the terminal too when asked to (stderr is a TTY), still not in the log", async () => {
    const keyFile = join(dir, "tty", "admin-key");
    const { app, deps, log } = await fresh(keyFile);
    try {
      const printed: string[] = [];
      await createSecurity(deps).start({ announce: (text) => printed.push(text), showToken: true });
      const token = (await readFile(keyFile, "utf8")).trim();
      expect(printed.join("\n")).toContain(token);
      expect(log.text).not.toContain(parseToken(token)?.secret);
    } finally {
      await app.dispose();
    }
  });

  it("creates no key when the key file exists, and one on the next start with a usable path", async () => {
    const taken = join(dir, "taken");
    await writeFile(taken, "the key of an earlier install\n");
    const { app, deps, log } = await fresh(taken);
    try {
      const printed: string[] = [];
      const err = await createSecurity(deps)
        .start({ announce: (text) => printed.push(text), showToken: true })
        .catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ConfigError);
      expect((err as Error).message).toContain(taken);
      expect(printed).toEqual([]);
      expect(log.text).not.toMatch(/lss_/);
      expect(await readFile(taken, "utf8")).toBe("the key of an earlier install\n");
      const keys = new KeyStore(app.db, { scrypt: { N: 1024, r: 8, p: 1 } });
      expect(await keys.list({ includeRevoked: true })).toEqual([]);

      const keyFile = join(dir, "retry", "admin-key");
      const retry = createSecurity({
        ...deps,
        config: { ...app.config, auth: { ...app.config.auth, bootstrapKeyFile: keyFile } },
      });
      await retry.start({ announce: (text) => printed.push(text) });
      const token = (await readFile(keyFile, "utf8")).trim();
      expect((await retry.authenticate(`Bearer ${token}`, "127.0.0.1")).keyId).toBe(parseToken(token)?.id);
      expect(await keys.list({ includeRevoked: true })).toHaveLength(1);
    } finally {
      await app.dispose();
    }
  });
});

describe("keys and audit commands", () => {
  let tmp: string;
  let env: Record<string, string>;

  beforeAll(async () => {
    tmp = await mkdtemp(join(tmpdir(), "lumenslate-keys-cli-"));
    env = testEnv({ PGLITE_DATA_DIR: join(tmp, "pglite") });
  });
  afterAll(async () => {
    await rm(tmp, { recursive: true, force: true });
  });

  const run = (...argv: string[]) => runCli(env, ...argv);

  it("prints a token only on create and rotate, and audits every change", async () => {
    const service = `cli-${unique()}`;
    const created = await run(
      "keys",
      "create",
      "--service",
      service,
      "--scope",
      "user-data/users/{user_id}/:read,write",
      "--scope",
      "temp:*",
      "--rate-limit",
      "100",
      "--json",
    );
    expect(created.stderr).toBe("");
    expect(created.code).toBe(0);
    const key = JSON.parse(created.stdout) as {
      id: string;
      token: string;
      scopes: string[];
      rateLimit: number;
    };
    expect(parseToken(key.token)?.id).toBe(key.id);
    expect(key.scopes).toEqual([
      "user-data/users/{user_id}/:read,write",
      "temp:read,write,delete,list,presign,admin",
    ]);
    expect(key.rateLimit).toBe(100);
    const secret = parseToken(key.token)?.secret as string;

    const listed = await run("keys", "list", "--json");
    expect(listed.code).toBe(0);
    expect(listed.stdout).not.toContain(secret);
    expect((JSON.parse(listed.stdout) as { id: string }[]).map((k) => k.id)).toContain(key.id);
    const text = await run("keys", "list");
    expect(text.stdout).toContain(key.id);
    expect(text.stdout).not.toContain(secret);

    const rotated = await run("keys", "rotate", key.id, "--json");
    const newToken = (JSON.parse(rotated.stdout) as { token: string }).token;
    expect(newToken).not.toBe(key.token);
    expect(parseToken(newToken)?.id).toBe(key.id);

    const revoked = await run("keys", "revoke", key.id);
    expect(revoked.code).toBe(0);
    expect(revoked.stdout).toMatch(/revokedAt:/);
    expect(revoked.stdout).not.toContain(parseToken(newToken)?.secret);

    const audit = await run("audit", "query", "--key", key.id, "--since", "1h", "--json");
    expect(audit.code).toBe(0);
    const records = JSON.parse(audit.stdout) as { action: string; protocol: string; service: string }[];
    expect(records.map((r) => r.action)).toEqual(["keys.create", "keys.rotate", "keys.revoke"]);
    expect(records.every((r) => r.protocol === "cli" && r.service === service)).toBe(true);
    expect(audit.stdout).not.toContain(secret);
  });

  it("reports bad input with exit status 2", async () => {
    const bad = await run("keys", "create", "--service", "x", "--scope", "user-data:fly");
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/INVALID_ARGUMENT: Unknown action 'fly'/);
    const none = await run("keys", "create", "--service", "x");
    expect(none.code).toBe(2);
    const since = await run("audit", "query", "--since", "yesterday");
    expect(since.code).toBe(2);
    const missing = await run("keys", "revoke", "zzzzzzzzzzzzzzzz");
    expect(missing.code).toBe(4);
  });
});
