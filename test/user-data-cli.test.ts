import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type CliRun, runCli } from "./support/cli.ts";
import { testEnv } from "./support/config.ts";
import { type HttpHarness, startHttp } from "./support/http.ts";

/**
 * `users put|ls|usage|delete-all` in local mode (embedded PGlite, filesystem backend) and in remote
 * mode against a running service (--endpoint/--token), with the same output either way.
 */

let tmp: string;

function json<T>(run: CliRun): T {
  expect({ code: run.code, stderr: run.stderr }).toEqual({ code: 0, stderr: "" });
  return JSON.parse(run.stdout) as T;
}

function workflow(cli: (...argv: string[]) => Promise<CliRun>, label: string) {
  it("puts within the quota, refuses past it, lists, reports usage and deletes everything", async () => {
    const user = `${label}-${Date.now().toString(36)}`;
    const file = join(tmp, `${label}-notes.txt`);
    await writeFile(file, "twelve bytes");
    const put = json<{ key: string; uploadId: string; size: number }>(
      await cli("users", "put", user, file, "--json"),
    );
    expect(put.key).toBe(`users/${user}/${put.uploadId}/${label}-notes.txt`);
    json(await cli("users", "put", user, file, "--name", "copy.txt", "--json"));

    // USER_DATA_QUOTA_OBJECTS=2 (below): the third file is refused, with what is left.
    const refused = await cli("users", "put", user, file);
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toMatch(/quota of 2 objects/);

    const listed = json<{ files: Array<{ filename: string }> }>(await cli("users", "ls", user, "--json"));
    expect(listed.files.map((f) => f.filename).sort()).toEqual(["copy.txt", `${label}-notes.txt`]);
    expect(json(await cli("users", "usage", user, "--json"))).toMatchObject({ bytes: 24, objects: 2 });

    const unconfirmed = await cli("users", "delete-all", user);
    expect(unconfirmed.code).not.toBe(0);
    expect(json<{ files: unknown[] }>(await cli("users", "ls", user, "--json")).files).toHaveLength(2);

    const report = json(await cli("users", "delete-all", user, "--yes", "--json"));
    expect(report).toEqual({ userId: user, deletedObjects: 2, deletedBytes: 24, failed: 0, errors: [] });
    expect(json<{ files: unknown[] }>(await cli("users", "ls", user, "--json")).files).toEqual([]);
    expect(json(await cli("users", "usage", user, "--json"))).toMatchObject({ bytes: 0, objects: 0 });
  });
}

beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), "users-cli-"));
});
afterAll(async () => {
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

describe("users commands in local mode", () => {
  let env: Record<string, string>;
  beforeAll(async () => {
    const { DATABASE_URL: _server, ...base } = testEnv({
      PGLITE_DATA_DIR: join(tmp, "pglite"),
      STORAGE_BACKEND: "local",
      STORAGE_LOCAL_ROOT: join(tmp, "objects"),
      USER_DATA_QUOTA_OBJECTS: "2",
    });
    env = { ...base, HOME: tmp, XDG_CONFIG_HOME: join(tmp, "xdg") };
    expect(await runCli(env, "bootstrap")).toMatchObject({ code: 0 });
  });
  workflow((...argv) => runCli(env, ...argv), "local");
});

describe("users commands in remote mode", () => {
  let h: HttpHarness;
  beforeAll(async () => {
    h = await startHttp("minio", { RATE_LIMIT_ENABLED: "false", USER_DATA_QUOTA_OBJECTS: "2" });
  });
  afterAll(async () => {
    await h?.close();
  });
  workflow(
    (...argv) =>
      runCli({ XDG_CONFIG_HOME: join(tmp, "xdg") }, ...argv, "--endpoint", h.base, "--token", h.token),
    "remote",
  );
});
