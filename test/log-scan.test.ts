import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { Writable } from "node:stream";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type AppContext, createApp } from "../src/app.ts";
import { loadConfig } from "../src/config/config.ts";
import { createLogger } from "../src/log.ts";
import { type HttpServer, startHttpServer } from "../src/transports/http/server.ts";
import { testEnv } from "./support/config.ts";
import { type OwnDatabase, ownDatabase } from "./support/database.ts";
import { bearer, createKey, jsonPost } from "./support/http.ts";

/**
 * Secret hygiene in the logs: the service runs with its real logger (src/log.ts) at debug level,
 * Fastify's request logging included, writing into a capture; the CLI runs as a child process with
 * LOG_LEVEL=debug. After key creation (the first-start admin key and `keys create`), refused
 * credentials that look real, presigning and temporary credentials, no key secret, no MinIO secret
 * key and no temporary secret or session token appears anywhere in what was logged.
 */

const ROOT = resolve(fileURLToPath(new URL("..", import.meta.url)));
const exec = promisify(execFile);

/** A pino destination that keeps every line. */
class Capture extends Writable {
  text = "";
  override _write(chunk: Buffer, _encoding: BufferEncoding, done: () => void): void {
    this.text += chunk.toString();
    done();
  }
}

/** The token and, separately, its secret part (a leak of either is a leak). */
const withSecretPart = (token: string) => [token, token.replace(/^lss_[a-z0-9]{16}_/, "")];

describe("log scan", () => {
  let dir: string;
  let database: OwnDatabase;
  let env: Record<string, string>;
  let app: AppContext | undefined;
  let server: HttpServer | undefined;
  const logs = new Capture();
  const secrets: string[] = [];

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "lumenslate-logscan-"));
    // Its own database: the first start must find no key, so that it creates (and prints) the admin key.
    database = await ownDatabase("log_scan", join(dir, "pglite"));
    env = testEnv({
      ...database.env,
      LOG_LEVEL: "debug",
      HTTP_HOST: "127.0.0.1",
      HTTP_PORT: "0",
      AUDIT_EXPORT_INTERVAL: "off",
      AUTH_BOOTSTRAP_KEY_FILE: join(dir, "admin-key"),
    });
    secrets.push(env.MINIO_SECRET_KEY as string);
    // On PostgreSQL, its password is one more secret that no log line may carry.
    const dbPassword = env.DATABASE_URL ? decodeURIComponent(new URL(env.DATABASE_URL).password) : "";
    if (dbPassword) secrets.push(dbPassword);
  });
  afterAll(async () => {
    await server?.close();
    await app?.close();
    await database?.drop();
    await rm(dir, { recursive: true, force: true });
  });

  it("finds no secret in any log line of the server or the CLI", async () => {
    const config = loadConfig(env);
    app = await createApp(config, createLogger(config, logs));
    expect(app.logger.level).toBe("debug");
    await app.bootstrap();
    // First start: the admin key is created and its token written to the key file only.
    let terminal = "";
    await app.security.start({ announce: (text) => (terminal += `${text}\n`) });
    const admin = (await readFile(join(dir, "admin-key"), "utf8")).trim();
    expect(admin).toMatch(/^lss_[a-z0-9]{16}_[A-Za-z0-9_-]{43}$/);
    expect(terminal).not.toMatch(/lss_/);
    secrets.push(...withSecretPart(admin));
    const temp = config.buckets.temp;
    const scoped = await createKey(app, "log-scan", [`${temp}/mine/:read,write,list,presign`]);
    secrets.push(...withSecretPart(scoped));

    server = await startHttpServer(app);
    const base = server.address;
    const call = async (path: string, token: string | undefined, init: RequestInit = {}) => {
      const headers = {
        ...(init.headers as Record<string, string> | undefined),
        ...(token ? bearer(token) : {}),
      };
      const res = await fetch(`${base}${path}`, { ...init, headers });
      return { status: res.status, body: await res.text() };
    };
    const object = `/v1/buckets/${temp}/objects/mine/file.txt`;

    expect((await call(object, scoped, { method: "PUT", body: "logged?" })).status).toBe(201);
    expect((await call(object, admin)).status).toBe(200);
    // Refused credentials that look real: a known key id with a made-up secret, and a stranger.
    for (const forged of [
      `lss_${/^lss_([a-z0-9]{16})_/.exec(admin)?.[1]}_${randomBytes(32).toString("base64url")}`,
      `lss_${"z".repeat(16)}_${randomBytes(32).toString("base64url")}`,
    ]) {
      secrets.push(...withSecretPart(forged));
      expect((await call(object, forged)).status).toBe(401);
      expect((await call(object, undefined, { headers: { authorization: forged } })).status).toBe(401);
    }
    expect((await call(`/v1/buckets/${temp}/objects/other.txt`, scoped)).status).toBe(403);
    const presigned = await call(
      "/v1/presign",
      scoped,
      jsonPost({ bucket: temp, key: "mine/file.txt", method: "GET" }),
    );
    expect(presigned.status).toBe(200);
    expect(await (await fetch((JSON.parse(presigned.body) as { url: string }).url)).text()).toBe("logged?");
    const issued = await call(
      "/v1/credentials",
      scoped,
      jsonPost({ bucket: temp, prefix: "mine/", durationSeconds: 900 }),
    );
    expect(issued.status).toBe(200);
    const creds = JSON.parse(issued.body) as { secretAccessKey: string; sessionToken: string };
    secrets.push(creds.secretAccessKey, creds.sessionToken);
    // A request that fails validation logs its error too.
    expect((await call("/v1/credentials", scoped, jsonPost({ bucket: temp }))).status).toBe(400);
    await server.close();
    server = undefined;
    await app.close();
    app = undefined;

    // The CLI, at debug level: key creation prints the token on stdout (its purpose), never in a log line.
    const cliEnv = { ...env, PATH: process.env.PATH ?? "", HOME: dir };
    const cli = (...args: string[]) =>
      exec(process.execPath, [join(ROOT, "bin/lumenslate-storage.js"), ...args], { env: cliEnv, cwd: ROOT });
    const created = await cli("keys", "create", "--service", "from-cli", "--scope", `${temp}:read`, "--json");
    const cliToken = (JSON.parse(created.stdout) as { token: string }).token;
    secrets.push(...withSecretPart(cliToken));
    const audit = await cli("audit", "query", "--json", "--limit", "10000");

    const outputs: Record<string, string> = {
      "server log": logs.text,
      "keys create log": created.stderr,
      "audit query output": audit.stdout + audit.stderr,
    };
    // The capture really holds the traffic: request and refusal lines, and key ids (which are public).
    expect(logs.text).toContain('"route":"/v1/buckets/:bucket/objects/*"');
    expect(logs.text).toContain('"msg":"request refused"');
    expect(logs.text).toContain(/^lss_([a-z0-9]{16})_/.exec(admin)?.[1]);
    expect(JSON.parse(audit.stdout).length).toBeGreaterThan(5);
    expect(secrets.every((s) => s.length >= 16)).toBe(true);
    for (const [name, text] of Object.entries(outputs)) {
      for (const secret of secrets) expect(text.includes(secret), `${name} leaks a secret`).toBe(false);
    }
  });
});
