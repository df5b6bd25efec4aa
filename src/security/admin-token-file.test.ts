import { access, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import { sql } from "kysely";
import pino from "pino";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { ConfigError, loadConfig } from "../config/config.ts";
import type { StorageService } from "../core/storage-service.ts";
import { type Database, openDatabase } from "../metadata/database.ts";
import { readAdminTokenFile } from "./admin-token-file.ts";
import { createSecurity } from "./index.ts";
import { formatToken, generateKeyId, generateSecret } from "./tokens.ts";

const FAST = { N: 1024, r: 8, p: 1 };
const newToken = () => formatToken(generateKeyId(), generateSecret());

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "lumenslate-admin-token-"));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("readAdminTokenFile", () => {
  it("reads one token, with or without a trailing newline", async () => {
    const token = newToken();
    for (const content of [token, `${token}\n`, `  ${token}\r\n`]) {
      await writeFile(join(dir, "t"), content);
      const parsed = await readAdminTokenFile(join(dir, "t"));
      expect(formatToken(parsed.id, parsed.secret)).toBe(token);
    }
  });

  it.each([
    ["a token missing one character", (t: string) => t.slice(0, -1)],
    ["a token with text after it", (t: string) => `${t}\nsecond line`],
    ["two tokens", (t: string) => `${t}\n${t}`],
    ["an empty file", () => ""],
    ["a much larger file", (t: string) => t.repeat(100)],
  ])("refuses %s, naming the variable and the path, never the content", async (_label, make) => {
    const token = newToken();
    const file = join(dir, "t");
    await writeFile(file, make(token));
    const err = await readAdminTokenFile(file).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConfigError);
    const message = (err as Error).message;
    expect(message).toContain("AUTH_BOOTSTRAP_ADMIN_TOKEN_FILE");
    expect(message).toContain(file);
    expect(message).not.toContain(token.slice(4, 20)); // the id
    expect(message).not.toContain(token.slice(21, 40)); // part of the secret
  });

  it("says why a file cannot be read", async () => {
    const err = await readAdminTokenFile(join(dir, "missing")).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as Error).message).toMatch(
      /AUTH_BOOTSTRAP_ADMIN_TOKEN_FILE .*missing.* cannot be read \(ENOENT\)/,
    );
  });
});

describe("AUTH_BOOTSTRAP_ADMIN_TOKEN_FILE at start-up", () => {
  let db: Database;
  let logged: string;
  let announced: string;

  const start = async (env: Record<string, string>) => {
    const config = loadConfig({
      PGLITE_DATA_DIR: "memory://",
      AUDIT_EXPORT_INTERVAL: "off",
      AUTH_BOOTSTRAP_KEY_FILE: join(dir, "admin-key"),
      ...env,
    });
    const sink = new Writable({
      write(chunk, _encoding, done) {
        logged += String(chunk);
        done();
      },
    });
    const security = createSecurity({
      config,
      db,
      service: undefined as unknown as StorageService, // used only by the audit export, which is off
      logger: pino({ level: "trace" }, sink),
      scrypt: FAST,
    });
    await security.start({ announce: (text) => (announced += text), showToken: true });
    return security;
  };

  // One embedded database (slow to open) for the suite, emptied of keys before each test.
  beforeAll(async () => {
    db = await openDatabase({ url: undefined, pgliteDir: "memory://" });
  });
  afterAll(async () => {
    await db?.destroy();
  });
  beforeEach(async () => {
    await sql`delete from api_keys`.execute(db);
    logged = "";
    announced = "";
  });

  it("adopts the operator's token on a database that never held a key, writing and showing nothing", async () => {
    const token = newToken();
    await writeFile(join(dir, "token"), `${token}\n`);
    const security = await start({ AUTH_BOOTSTRAP_ADMIN_TOKEN_FILE: join(dir, "token") });
    const principal = await security.authenticate(`Bearer ${token}`, "127.0.0.1");
    expect(principal).toMatchObject({ keyId: token.slice(4, 20), service: "admin" });
    expect((await security.keys.list()).map((k) => k.id)).toEqual([token.slice(4, 20)]);
    await expect(access(join(dir, "admin-key"))).rejects.toMatchObject({ code: "ENOENT" });
    expect(announced).toContain(token.slice(4, 20)); // the public id, so the operator can find it
    const secret = token.slice(21);
    expect(announced).not.toContain(secret);
    expect(logged).toContain("AUTH_BOOTSTRAP_ADMIN_TOKEN_FILE");
    expect(logged).not.toContain(secret);
  });

  it("leaves a database that holds keys alone, without reading the file", async () => {
    const first = await start({});
    const [existing] = await first.keys.list();
    await start({ AUTH_BOOTSTRAP_ADMIN_TOKEN_FILE: join(dir, "not-there") });
    expect((await first.keys.list()).map((k) => k.id)).toEqual([existing?.id]);
  });

  it("stops start-up with a malformed token and creates no key", async () => {
    const token = newToken();
    await writeFile(join(dir, "token"), token.replace("lss_", "lsk_"));
    const err = await start({ AUTH_BOOTSTRAP_ADMIN_TOKEN_FILE: join(dir, "token") }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as Error).message).toContain("AUTH_BOOTSTRAP_ADMIN_TOKEN_FILE");
    expect((err as Error).message).not.toContain(token.slice(21));
    const check = createSecurity({
      config: loadConfig({ PGLITE_DATA_DIR: "memory://" }),
      db,
      service: undefined as unknown as StorageService,
      logger: pino({ level: "silent" }),
    });
    expect(await check.keys.list({ includeRevoked: true })).toEqual([]);
    await expect(access(join(dir, "admin-key"))).rejects.toMatchObject({ code: "ENOENT" });
  });
});

it("AUTH_BOOTSTRAP_ADMIN_TOKEN_FILE is refused with AUTH_BOOTSTRAP_ADMIN=false, which it contradicts", () => {
  expect(() =>
    loadConfig({ AUTH_BOOTSTRAP_ADMIN: "false", AUTH_BOOTSTRAP_ADMIN_TOKEN_FILE: join(dir, "token") }),
  ).toThrow(/AUTH_BOOTSTRAP_ADMIN_TOKEN_FILE needs AUTH_BOOTSTRAP_ADMIN=true/);
});
