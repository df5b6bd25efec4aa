import { randomBytes } from "node:crypto";
import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { Readable } from "node:stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { listJson } from "../src/cli/commands/ls.ts";
import { localApi } from "../src/cli/local-api.ts";
import { EXIT_CODES, main } from "../src/cli/main.ts";
import { objectInfoJson, toJsonValue } from "../src/cli/output.ts";
import { runCli, textSink } from "./support/cli.ts";
import { testEnv } from "./support/config.ts";
import { sha256Of, uploadableBytes } from "./support/data.ts";
import { type HttpHarness, startHttp } from "./support/http.ts";

/**
 * The CLI's remote mode against a real service (HTTP API on MinIO, in this process): every object
 * command through --endpoint/--token, LUMENSLATE_URL/LUMENSLATE_TOKEN and a `login` profile, with
 * the output local mode prints, the same exit codes, and sha256-checked bytes; `mirror` both ways.
 */

const TREE_FILES = 500;

let h: HttpHarness;
let tmp: string;
let temp: string;
/** No HOME and a private XDG_CONFIG_HOME: no profile unless a test writes one. */
let bare: Record<string, string>;

const sha256File = async (path: string) => sha256Of(await readFile(path));

function json<T = Record<string, unknown>>(run: { code: number; stdout: string; stderr: string }): T {
  expect({ code: run.code, stderr: run.stderr }).toEqual({ code: 0, stderr: "" });
  return JSON.parse(run.stdout) as T;
}

/** Shape of a JSON value: keys and value types, recursively (null stays null). */
function shape(value: unknown): unknown {
  if (value === null) return null;
  if (Array.isArray(value)) return value.map(shape);
  if (typeof value === "object") {
    return Object.fromEntries(Object.entries(value as object).map(([k, v]) => [k, shape(v)]));
  }
  return typeof value;
}

async function filesUnder(dir: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (const entry of await readdir(dir, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue;
    const full = join(entry.parentPath, entry.name);
    out.set(relative(dir, full), await sha256File(full));
  }
  return out;
}

beforeAll(async () => {
  // Mirror runs send thousands of requests with one key: far beyond the default budget.
  h = await startHttp("minio", { RATE_LIMIT_REQUESTS: "1000000" });
  temp = h.app.config.buckets.temp;
  tmp = await mkdtemp(join(tmpdir(), "lumenslate-cli-remote-"));
  bare = { XDG_CONFIG_HOME: join(tmp, "xdg") };
});
afterAll(async () => {
  await h?.close();
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

describe("object commands with --endpoint and --token", () => {
  const remote = (...argv: string[]) => runCli(bare, ...argv, "--endpoint", h.base, "--token", h.token);

  it("round-trips put, stat, ls, get, cp, presign and rm with matching sha256", async () => {
    const file = join(tmp, "model.bin");
    const data = uploadableBytes(300 * 1024 + 7);
    await writeFile(file, data);
    const sha256 = sha256Of(data);

    const put = json(
      await remote("put", temp, "remote/model.bin", file, "--meta", "purpose=remote", "--json"),
    );
    expect(put).toMatchObject({ bucket: temp, key: "remote/model.bin", size: data.length, sha256 });
    // The same document local mode prints, from the service's own record of the object.
    const stored = await h.app.service.stat(temp, "remote/model.bin");
    const { lastModified: _putTime, ...putRest } = put;
    const { lastModified: _storeTime, ...storedRest } = toJsonValue(objectInfoJson(stored)) as Record<
      string,
      unknown
    >;
    expect(putRest).toEqual(storedRest);

    // A put in local mode (same MinIO and bucket) prints a document of the same shape.
    const local = json(
      await runCli(testEnv(), "put", temp, "shape/local-put.bin", file, "--meta", "purpose=local", "--json"),
    );
    expect(shape(put)).toEqual(shape(local));

    // stat: HEAD carries everything but the owner (null, as for an object local mode cannot attribute).
    const statJson = json(await remote("stat", temp, "remote/model.bin", "--json"));
    expect(statJson).toEqual({ ...(toJsonValue(objectInfoJson(stored)) as object), owner: null });
    expect(Object.keys(statJson)).toEqual(Object.keys(objectInfoJson(stored)));
    const statText = await remote("stat", temp, "remote/model.bin");
    expect(statText.stdout).toMatch(new RegExp(`^sha256: +${sha256}$`, "m"));

    const listed = json(await remote("ls", temp, "remote/", "--recursive", "--json"));
    expect(listed).toEqual(
      toJsonValue(listJson(await h.app.service.list(temp, { prefix: "remote/", recursive: true }))),
    );
    expect((listed as { objects: unknown[] }).objects).toHaveLength(1);
    expect((await remote("ls", temp, "remote/")).stdout).toContain(sha256.slice(0, 12));

    const target = join(tmp, "model.out");
    const got = json(await remote("get", temp, "remote/model.bin", target, "--json"));
    expect(got).toMatchObject({ sha256, written: data.length, file: target, range: null });
    expect(await sha256File(target)).toBe(sha256);
    const ranged = join(tmp, "model.range");
    const rangedJson = json(
      await remote("get", temp, "remote/model.bin", ranged, "--range", "1000-1099", "--json"),
    );
    expect(rangedJson).toMatchObject({ written: 100, range: { start: 1000, end: 1099 }, size: data.length });
    expect(await readFile(ranged)).toEqual(data.subarray(1000, 1100));

    const copied = json(await remote("cp", temp, "remote/model.bin", temp, "remote/copy.bin", "--json"));
    expect(copied).toMatchObject({ key: "remote/copy.bin", sha256, size: data.length });
    const copyTarget = join(tmp, "copy.out");
    expect((await remote("get", temp, "remote/copy.bin", copyTarget)).code).toBe(0);
    expect(await sha256File(copyTarget)).toBe(sha256);

    const presigned = json<{ url: string; method: string; expiresAt: string }>(
      await remote("presign", temp, "remote/model.bin", "--expires", "5m", "--json"),
    );
    expect(presigned.method).toBe("GET");
    const viaUrl = await fetch(presigned.url);
    expect(viaUrl.status).toBe(200);
    expect(sha256Of(Buffer.from(await viaUrl.arrayBuffer()))).toBe(sha256);
    expect((await remote("presign", temp, "remote/model.bin")).stdout).toMatch(/^https?:\/\/\S+\n$/);

    const removed = json(await remote("rm", temp, "remote/copy.bin", "--json"));
    expect(removed).toMatchObject({
      bucket: temp,
      key: "remote/copy.bin",
      deleteMarker: expect.any(Boolean),
    });
    await expect(h.app.service.stat(temp, "remote/copy.bin")).rejects.toMatchObject({ code: "NOT_FOUND" });
  });

  it("keeps local mode's exit codes: NOT_FOUND, a bad token, no token, an unreachable service", async () => {
    const missing = await remote("stat", temp, "remote/missing.bin");
    expect(missing).toMatchObject({ code: EXIT_CODES.NOT_FOUND, stdout: "" });
    expect(missing.stderr).toMatch(/^error: NOT_FOUND: /);
    const missingGet = await remote("get", temp, "remote/missing.bin", join(tmp, "never"));
    expect(missingGet.code).toBe(4);
    expect(missingGet.stderr).toMatch(/^error: NOT_FOUND: /);
    await expect(stat(join(tmp, "never"))).rejects.toMatchObject({ code: "ENOENT" });

    const forged = `lss_${"a".repeat(16)}_${randomBytes(32).toString("base64url")}`;
    const bad = await runCli(bare, "ls", temp, "--endpoint", h.base, "--token", forged);
    expect(bad.code).toBe(EXIT_CODES.UNAUTHENTICATED);
    expect(bad.stderr).toMatch(/^error: UNAUTHENTICATED: /);
    expect(bad.stderr).not.toContain(forged);

    const none = await runCli(bare, "ls", temp, "--endpoint", h.base);
    expect(none.code).toBe(5);
    expect(none.stderr).toContain("pass --token");

    const reader = await h.createKey("remote-reader", [`${temp}:read,list`]);
    const file = join(tmp, "denied.bin");
    await writeFile(file, "x");
    const denied = await runCli(
      bare,
      "put",
      temp,
      "remote/denied.bin",
      file,
      "--endpoint",
      h.base,
      "--token",
      reader,
    );
    expect(denied.code).toBe(EXIT_CODES.PERMISSION_DENIED);
    expect(denied.stderr).toMatch(/^error: PERMISSION_DENIED: /);

    const closed = await runCli(bare, "ls", temp, "--endpoint", "http://127.0.0.1:1", "--token", h.token);
    expect(closed.code).toBe(EXIT_CODES.UNAVAILABLE);
  });
});

describe("local mode", () => {
  it("audits put, cp and rm with protocol cli, as a service audits its callers", async () => {
    const api = localApi(h.app);
    const file = join(tmp, "local-audit.bin");
    await writeFile(file, uploadableBytes(100));
    const since = new Date(Date.now() - 1000);
    const signal = new AbortController().signal;
    await api.put({ file, bucket: temp, key: "local/a.bin", metadata: {}, owner: "ops", signal });
    await api.cp({ bucket: temp, key: "local/a.bin" }, { bucket: temp, key: "local/b.bin" }, "ops");
    await api.rm(temp, "local/b.bin");
    await expect(api.rm(temp, "local/never.bin")).rejects.toMatchObject({ code: "NOT_FOUND" });
    const records = await h.app.security.audit.query({ since, bucket: temp });
    const local = records.filter((r) => r.protocol === "cli" && r.key?.startsWith("local/"));
    expect(local.map((r) => [r.action, r.key, r.result])).toEqual([
      ["upload", "local/a.bin", "OK"],
      ["copy", "local/b.bin", "OK"],
      ["delete", "local/b.bin", "OK"],
      ["delete", "local/never.bin", "NOT_FOUND"],
    ]);
    expect(local[0]).toMatchObject({ service: "ops", bytes: 100, details: { user: expect.any(String) } });
  });
});

describe("LUMENSLATE_URL, LUMENSLATE_TOKEN and login", () => {
  it("uses the service named in the environment", async () => {
    const env = { ...bare, LUMENSLATE_URL: h.base, LUMENSLATE_TOKEN: h.token };
    const file = join(tmp, "env.bin");
    await writeFile(file, uploadableBytes(4096));
    const sha256 = await sha256File(file);
    expect(json(await runCli(env, "put", temp, "env/a.bin", file, "--json"))).toMatchObject({ sha256 });
    expect(json(await runCli(env, "stat", temp, "env/a.bin", "--json"))).toMatchObject({
      sha256,
      size: 4096,
    });
    const listed = json<{ objects: { key: string; sha256: string }[] }>(
      await runCli(env, "ls", temp, "env/", "--json"),
    );
    expect(listed.objects).toEqual([expect.objectContaining({ key: "env/a.bin", sha256 })]);
    const out = join(tmp, "env.out");
    expect((await runCli(env, "get", temp, "env/a.bin", out)).code).toBe(0);
    expect(await sha256File(out)).toBe(sha256);
    const help = await runCli(env, "--help");
    expect(help.stdout).toContain(`target: ${h.base} (from LUMENSLATE_URL)`);
    expect(help.stdout).toContain("--endpoint <url> --token <token>");
  });

  it("writes a 0600 profile with login, which later commands use", async () => {
    const env = { XDG_CONFIG_HOME: join(tmp, "login-xdg") };
    const profile = join(tmp, "login-xdg", "lumenslate-storage", "profile.json");
    const login = json(await runCli(env, "login", `${h.base}/`, "--token", h.token, "--json"));
    expect(login).toEqual({ url: h.base, profile });
    expect((await stat(profile)).mode & 0o777).toBe(0o600);
    expect(JSON.parse(await readFile(profile, "utf8"))).toEqual({ url: h.base, token: h.token });

    const file = join(tmp, "profile.bin");
    await writeFile(file, uploadableBytes(2048));
    const sha256 = await sha256File(file);
    expect(json(await runCli(env, "put", temp, "profile/a.bin", file, "--json"))).toMatchObject({ sha256 });
    expect(json(await runCli(env, "stat", temp, "profile/a.bin", "--json"))).toMatchObject({ sha256 });
    expect((await runCli(env, "ls", temp, "--help")).stdout).toContain(
      `target: ${h.base} (from the profile ${profile})`,
    );

    // The token may come on stdin instead (a pipe: `login URL < token-file`).
    let stdout = "";
    const code = await main(["login", h.base], {
      env: { XDG_CONFIG_HOME: join(tmp, "stdin-xdg") },
      io: {
        stdout: textSink((text) => {
          stdout += text;
        }),
        stderr: textSink(() => {}),
        stdin: Readable.from([`${h.token}\n`]),
      },
    });
    expect(code).toBe(0);
    expect(stdout).toContain("profile:");
    const piped = JSON.parse(
      await readFile(join(tmp, "stdin-xdg", "lumenslate-storage", "profile.json"), "utf8"),
    );
    expect(piped).toEqual({ url: h.base, token: h.token });

    // An unreachable service is not saved.
    const nowhere = await runCli(
      { XDG_CONFIG_HOME: join(tmp, "nowhere-xdg") },
      "login",
      "http://127.0.0.1:1",
      "--token",
      "x",
    );
    expect(nowhere.code).toBe(EXIT_CODES.UNAVAILABLE);
    await expect(stat(join(tmp, "nowhere-xdg", "lumenslate-storage", "profile.json"))).rejects.toMatchObject({
      code: "ENOENT",
    });
  });
});

describe("admin commands in remote mode", () => {
  it("creates a key the service accepts at once, lists, revokes it and reads the audit trail", async () => {
    const env = { ...bare, LUMENSLATE_URL: h.base, LUMENSLATE_TOKEN: h.token };
    const created = json<{ id: string; token: string; scopes: string[] }>(
      await runCli(
        env,
        "keys",
        "create",
        "--service",
        "remote-made",
        "--scope",
        `${temp}:read,list`,
        "--json",
      ),
    );
    expect(created.scopes).toEqual([`${temp}:read,list`]);
    const asNew = { ...bare, LUMENSLATE_URL: h.base, LUMENSLATE_TOKEN: created.token };
    expect((await runCli(asNew, "ls", temp)).code).toBe(0);
    const listed = json<{ id: string }[]>(await runCli(env, "keys", "list", "--json"));
    expect(listed.map((k) => k.id)).toContain(created.id);
    json(await runCli(env, "keys", "revoke", created.id, "--json"));
    const refused = await runCli(asNew, "ls", temp);
    expect(refused.code).toBe(EXIT_CODES.UNAUTHENTICATED);

    const records = json<{ action: string; bucket: string | null; protocol: string }[]>(
      await runCli(env, "audit", "query", "--since", "1h", "--bucket", temp, "--json"),
    );
    expect(records).toContainEqual(
      expect.objectContaining({ action: "upload", bucket: temp, protocol: "http" }),
    );
  });
});

describe("mirror and recursive put/get", () => {
  const env = () => ({ ...bare, LUMENSLATE_URL: h.base, LUMENSLATE_TOKEN: h.token });

  interface Summary {
    files: number;
    uploaded: number;
    downloaded: number;
    skipped: number;
    failed: number;
    bytes: number;
    failures: { key: string; code: string }[];
  }

  it(`mirrors a ${TREE_FILES}-file tree up twice (the second run transfers nothing) and back down`, async () => {
    const tree = join(tmp, "tree");
    let total = 0;
    for (let i = 0; i < TREE_FILES; i++) {
      const dir = join(tree, `d${i % 10}`, `s${i % 3}`);
      await mkdir(dir, { recursive: true });
      const data = uploadableBytes(64 + (i % 200));
      total += data.length;
      await writeFile(join(dir, `f${i}.bin`), data);
    }
    const source = await filesUnder(tree);
    expect(source.size).toBe(TREE_FILES);

    const first = json<Summary>(await runCli(env(), "mirror", tree, `${temp}/tree`, "--json"));
    expect(first).toMatchObject({
      files: TREE_FILES,
      uploaded: TREE_FILES,
      skipped: 0,
      failed: 0,
      bytes: total,
    });
    const second = json<Summary>(await runCli(env(), "mirror", tree, `${temp}/tree`, "--json"));
    expect(second).toMatchObject({
      files: TREE_FILES,
      uploaded: 0,
      skipped: TREE_FILES,
      failed: 0,
      bytes: 0,
    });
    const text = await runCli(env(), "mirror", tree, `${temp}/tree`);
    expect(text.code).toBe(0);
    expect(text.stdout).toContain(`skipped:  ${TREE_FILES} (sha256 matches)`);

    // One changed file is the only one sent again.
    await writeFile(join(tree, "d0", "s0", "f0.bin"), "changed");
    source.set(join("d0", "s0", "f0.bin"), sha256Of("changed"));
    const third = json<Summary>(await runCli(env(), "mirror", tree, `${temp}/tree/`, "--json"));
    expect(third).toMatchObject({ uploaded: 1, skipped: TREE_FILES - 1, failed: 0, bytes: 7 });

    const down = join(tmp, "down");
    const back = json<Summary>(await runCli(env(), "mirror", `${temp}/tree`, down, "--json"));
    expect(back).toMatchObject({ files: TREE_FILES, downloaded: TREE_FILES, skipped: 0, failed: 0 });
    expect(await filesUnder(down)).toEqual(source);
    const again = json<Summary>(await runCli(env(), "mirror", `${temp}/tree`, down, "--json"));
    expect(again).toMatchObject({ downloaded: 0, skipped: TREE_FILES, failed: 0 });
  });

  it("puts and gets a directory with -r", async () => {
    const dir = join(tmp, "rec");
    await mkdir(join(dir, "a", "b"), { recursive: true });
    await writeFile(join(dir, "top.bin"), uploadableBytes(1000));
    await writeFile(join(dir, "a", "mid.bin"), uploadableBytes(2000));
    await writeFile(join(dir, "a", "b", "deep.bin"), uploadableBytes(3000));
    const up = json<Summary>(await runCli(env(), "put", "-r", dir, `${temp}/rec`, "--json"));
    expect(up).toMatchObject({ files: 3, uploaded: 3, failed: 0, bytes: 6000 });
    const listed = json<{ objects: { key: string }[] }>(
      await runCli(env(), "ls", temp, "rec/", "-r", "--json"),
    );
    expect(listed.objects.map((o) => o.key).sort()).toEqual([
      "rec/a/b/deep.bin",
      "rec/a/mid.bin",
      "rec/top.bin",
    ]);

    const into = join(tmp, "rec-down");
    const down = json<Summary>(await runCli(env(), "get", "-r", `${temp}/rec`, into, "--json"));
    expect(down).toMatchObject({ files: 3, downloaded: 3, failed: 0, bytes: 6000 });
    expect(await filesUnder(into)).toEqual(await filesUnder(dir));
  });

  it("reports files that failed, carries on with the others and exits non-zero", async () => {
    const dir = join(tmp, "mixed");
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, "ok.txt"), "fine");
    await writeFile(join(dir, "tool.exe"), "MZ not allowed here");
    const userData = h.app.config.buckets.userData;
    const run = await runCli(env(), "mirror", dir, `${userData}/mixed-${Date.now()}`, "--json");
    expect(run.code).toBe(EXIT_CODES.UNSUPPORTED_TYPE);
    const summary = JSON.parse(run.stdout) as Summary;
    expect(summary).toMatchObject({ files: 2, uploaded: 1, failed: 1 });
    expect(summary.failures).toEqual([expect.objectContaining({ code: "UNSUPPORTED_TYPE" })]);
    expect(run.stderr).toMatch(/^error: UNSUPPORTED_TYPE: 1 of 2 files failed/);

    const both = await runCli(env(), "mirror", `${temp}/a`, `${temp}/b`);
    expect(both.code).toBe(EXIT_CODES.INVALID_ARGUMENT);
  });
});
