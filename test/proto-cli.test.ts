import { execFile } from "node:child_process";
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join, relative } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCli } from "./support/cli.ts";
import { testEnv } from "./support/config.ts";
import { type HttpHarness, startHttp } from "./support/http.ts";
import { ADDED_FIELD, BILLING, COMMON, type ProtoSet, V1, V1_1, V2_BREAKING } from "./support/proto-sets.ts";

/**
 * `proto push|versions|pull|diff` as a person or a script runs them: in local mode (embedded PGlite
 * in a temp directory, filesystem backend) and in remote mode against a running service's HTTP API
 * (--endpoint/--token), with the same output either way.
 */

interface VersionJson {
  service: string;
  version: string;
  createdAt: string;
  digest: string;
  uploader: string;
  files: { filename: string; size: number; sha256: string }[];
  breakingOverridden: boolean;
}

let tmp: string;

function json<T>(run: { code: number; stdout: string; stderr: string }): T {
  expect({ code: run.code, stderr: run.stderr }).toEqual({ code: 0, stderr: "" });
  return JSON.parse(run.stdout) as T;
}

/** The set written below a fresh directory, as a person would have it checked out. */
async function writeSet(set: ProtoSet): Promise<string> {
  const dir = await mkdtemp(join(tmp, "set-"));
  for (const [filename, text] of Object.entries(set)) {
    await mkdir(dirname(join(dir, filename)), { recursive: true });
    await writeFile(join(dir, filename), text);
  }
  return dir;
}

async function filesUnder(dir: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (const entry of await readdir(dir, { recursive: true, withFileTypes: true })) {
    if (entry.isFile()) {
      const path = join(entry.parentPath, entry.name);
      out.set(relative(dir, path).split("\\").join("/"), await readFile(path, "utf8"));
    }
  }
  return out;
}

/** The whole workflow, through `cli` (local or remote); `uploader` is who the version records. */
function workflow(cli: (...argv: string[]) => ReturnType<typeof runCli>, service: string, uploader: string) {
  it("pushes a directory, lists versions, pulls files and the archive, and diffs", async () => {
    const v1 = json<{ created: boolean; version: VersionJson }>(
      await cli("proto", "push", service, "1.0.0", await writeSet(V1), "--json"),
    );
    expect(v1).toMatchObject({ created: true, version: { service, version: "1.0.0", uploader } });
    expect(v1.version.files.map((f) => f.filename)).toEqual([BILLING, COMMON].sort());

    // Text output of a push names the version.
    const v11 = await cli("proto", "push", service, "1.1.0", await writeSet(V1_1));
    expect(v11).toMatchObject({ code: 0, stderr: "" });
    expect(v11.stdout).toMatch(new RegExp(`published ${service} 1\\.1\\.0`));

    const listed = json<VersionJson[]>(await cli("proto", "versions", service, "--json"));
    expect(listed.map((v) => v.version)).toEqual(["1.0.0", "1.1.0"]);
    expect(listed[0]).toMatchObject({ digest: v1.version.digest, createdAt: v1.version.createdAt });
    expect(Number.isNaN(Date.parse(listed[1]?.createdAt ?? ""))).toBe(false);
    const table = await cli("proto", "versions", service);
    expect(table.stdout.split("\n")[0]).toMatch(/^version\s+created\s+digest/);

    const out = join(tmp, `${service}-pull`);
    const pulled = json<{ version: string; files: { filename: string }[] }>(
      await cli("proto", "pull", service, "latest", "--out", out, "--json"),
    );
    expect(pulled.version).toBe("1.1.0");
    expect(Object.fromEntries(await filesUnder(out))).toEqual(V1_1);

    const archiveDir = join(tmp, `${service}-archive`);
    const archived = json<{ archive: { path: string } }>(
      await cli("proto", "pull", service, "1.0.0", "--out", archiveDir, "--archive", "--json"),
    );
    expect(archived.archive.path).toBe(join(archiveDir, `${service}-1.0.0.tar.gz`));
    const unpacked = join(tmp, `${service}-unpacked`);
    await mkdir(unpacked);
    await promisify(execFile)("tar", ["-xzf", archived.archive.path, "-C", unpacked]);
    const inArchive = await filesUnder(unpacked);
    for (const filename of [COMMON, BILLING]) {
      const path = [...inArchive.keys()].find((p) => p === filename || p.endsWith(`/${filename}`));
      expect(inArchive.get(path ?? ""), filename).toBe(V1[filename]);
    }

    const diff = json<{ added: { fields: string[] }; removed: { fields: string[] } }>(
      await cli("proto", "diff", service, "1.0.0", "1.1.0", "--json"),
    );
    expect(diff.added.fields).toEqual([ADDED_FIELD]);
    expect(diff.removed.fields).toEqual([]);
    expect((await cli("proto", "diff", service, "1.0.0", "1.1.0")).stdout).toBe(`+ field ${ADDED_FIELD}\n`);
  });

  it("refuses a breaking push (exit 2, nothing published) unless --allow-breaking", async () => {
    const dir = await writeSet(V2_BREAKING);
    const refused = await cli("proto", "push", service, "2.0.0", dir);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/^error: PRECONDITION_FAILED: /);
    expect(
      json<VersionJson[]>(await cli("proto", "versions", service, "--json")).map((v) => v.version),
    ).toEqual(["1.0.0", "1.1.0"]);
    const forced = json<{ version: VersionJson }>(
      await cli("proto", "push", service, "2.0.0", dir, "--allow-breaking", "--json"),
    );
    expect(forced.version).toMatchObject({ version: "2.0.0", breakingOverridden: true });
  });

  it("refuses a file outside the root and a missing path before sending anything", async () => {
    const dir = await writeSet(V1);
    const outside = await cli(
      "proto",
      "push",
      service,
      "3.0.0",
      join(dir, COMMON),
      "--root",
      join(dir, "billing"),
    );
    expect(outside.code).toBe(2);
    expect(outside.stderr).toMatch(/INVALID_ARGUMENT: .*outside/);
    const missing = await cli("proto", "push", service, "3.0.0", join(tmp, "nope"));
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/INVALID_ARGUMENT: Cannot read/);
  });
}

beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), "proto-cli-"));
});
afterAll(async () => {
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

describe("proto commands in local mode", () => {
  let env: Record<string, string>;
  beforeAll(async () => {
    const { DATABASE_URL: _server, ...base } = testEnv({
      PGLITE_DATA_DIR: join(tmp, "pglite"),
      STORAGE_BACKEND: "local",
      STORAGE_LOCAL_ROOT: join(tmp, "objects"),
    });
    env = { ...base, HOME: tmp, XDG_CONFIG_HOME: join(tmp, "xdg") };
    expect(await runCli(env, "bootstrap")).toMatchObject({ code: 0 });
  });
  workflow((...argv) => runCli(env, ...argv), "billing-local", "cli");
});

describe("proto commands in remote mode", () => {
  let h: HttpHarness;
  beforeAll(async () => {
    h = await startHttp("minio", { RATE_LIMIT_ENABLED: "false" });
  });
  afterAll(async () => {
    await h?.close();
  });
  workflow(
    (...argv) =>
      runCli({ XDG_CONFIG_HOME: join(tmp, "xdg") }, ...argv, "--endpoint", h.base, "--token", h.token),
    "billing-remote",
    "test-admin",
  );
});
