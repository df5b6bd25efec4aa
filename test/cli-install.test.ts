import { execFile } from "node:child_process";
import { access, chmod, mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { delimiter, dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import pkg from "../package.json" with { type: "json" };

/**
 * The command as someone outside the repository gets it: `npm pack`, then `npm install -g` of the
 * tarball (and of the checkout) into a private prefix, run from another directory with an old
 * Node first on PATH — the launcher must re-run itself on the Node 24 the package ships with, and
 * load its TypeScript from under node_modules. Also `npm exec --prefix <repo>` from elsewhere.
 * npm reads dependency metadata from the registry (a tarball carries no lockfile); the tarballs
 * come from npm's cache, warm after `npm ci`.
 */

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const NODE24 = join(ROOT, "node_modules/node/bin/node");

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a program to its end, never throwing on a non-zero exit. */
function run(file: string, args: string[], options: { cwd: string; env: NodeJS.ProcessEnv }): Promise<Run> {
  return new Promise((done) => {
    execFile(file, args, { ...options, maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === "number" ? err.code : null) : 0;
      done({ code, stdout, stderr });
    });
  });
}

/** The first `name` on this PATH outside any node_modules (the system's, not the project's). */
async function systemProgram(name: string): Promise<string | undefined> {
  for (const dir of (process.env.PATH ?? "").split(delimiter)) {
    if (!dir || dir.includes("node_modules")) continue;
    const path = join(dir, name);
    if (
      await access(path).then(
        () => true,
        () => false,
      )
    )
      return path;
  }
  return undefined;
}

/**
 * A directory whose `node` cannot strip types: the system Node's when it is older than 24 (as on
 * CI), else a shim that runs Node 24 with type stripping off — the launcher must re-run either way.
 */
async function oldNodeDir(scratch: string): Promise<string> {
  const system = await systemProgram("node");
  if (system) {
    const probe = await run(system, ["-p", "process.versions.node"], { cwd: scratch, env: process.env });
    if (Number(probe.stdout.split(".")[0]) < 24) return dirname(system);
  }
  const dir = join(scratch, "old-node");
  await mkdir(dir);
  await writeFile(join(dir, "node"), `#!/bin/sh\nexec "${NODE24}" --no-experimental-strip-types "$@"\n`);
  await chmod(join(dir, "node"), 0o755);
  return dir;
}

/** This environment without npm's per-script variables (`npm test` sets npm_config_*). */
function cleanEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(process.env)) {
    if (!name.toLowerCase().startsWith("npm_")) env[name] = value;
  }
  return { ...env, ...extra };
}

let scratch: string;
let elsewhere: string;
let npm: string;
let oldPath: string;
let tarball: string;
let packed: string[];

beforeAll(async () => {
  scratch = await mkdtemp(join(tmpdir(), "lumenslate-install-"));
  elsewhere = join(scratch, "elsewhere");
  await mkdir(elsewhere);
  npm = (await systemProgram("npm")) ?? "npm";
  oldPath = [await oldNodeDir(scratch), dirname(npm), "/usr/bin", "/bin"].join(delimiter);

  const pack = await run(npm, ["pack", "--json", "--pack-destination", scratch], {
    cwd: ROOT,
    env: cleanEnv({}),
  });
  expect(pack, pack.stderr).toMatchObject({ code: 0 });
  const [info] = JSON.parse(pack.stdout) as { filename: string; files: { path: string }[] }[];
  tarball = join(scratch, info?.filename as string);
  packed = info?.files.map((f) => f.path) ?? [];
});

afterAll(async () => {
  if (scratch) await rm(scratch, { recursive: true, force: true });
});

describe("npm pack", () => {
  it("ships the launcher, the sources, protos and policies; no tests, no clients", () => {
    expect(packed).toEqual(
      expect.arrayContaining([
        "package.json",
        "README.md",
        "LICENSE",
        ".env.example",
        "bin/lumenslate-storage.js",
        "bin/runtime.js",
        "bin/strip-types.js",
        "src/cli/main.ts",
        "src/transports/grpc/descriptor-set.binpb",
        "proto/lumenslate/storage/v1/storage.proto",
        "policies/buckets/public-read.json",
      ]),
    );
    expect(packed.filter((p) => /^(test|clients|bench|scripts|node_modules)\/|\.test\.ts$/.test(p))).toEqual(
      [],
    );
  });
});

describe("installed with npm install -g, run with an old Node first on PATH", () => {
  // With the old Node first, `#!/usr/bin/env node` starts the launcher on it. Nothing else of this
  // environment: no DATABASE_URL, LUMENSLATE_URL or profile of the person running the tests.
  const runOld = (bin: string, ...args: string[]) =>
    run(bin, args, { cwd: elsewhere, env: { PATH: oldPath, HOME: scratch } });

  it("the Node first on that PATH cannot strip types (so passing needs the bundled Node)", async () => {
    const probe = await run("node", ["-p", "Boolean(process.features.typescript)"], {
      cwd: elsewhere,
      env: { PATH: oldPath },
    });
    expect(probe).toMatchObject({ code: 0, stdout: "false\n" });
  });

  it("from the packed tarball: --help and --version work from another directory", async () => {
    const prefix = join(scratch, "global");
    const install = await run(
      npm,
      ["install", "-g", "--prefix", prefix, tarball, "--no-audit", "--no-fund", "--prefer-offline"],
      { cwd: elsewhere, env: cleanEnv({}) },
    );
    expect(install, install.stderr).toMatchObject({ code: 0 });
    const bin = join(prefix, "bin/lumenslate-storage");

    const help = await runOld(bin, "--help");
    expect(help, help.stderr).toMatchObject({
      code: 0,
      stdout: expect.stringContaining("Usage: lumenslate-storage"),
    });
    expect(help.stdout).toMatch(/^\s+serve\b/m);
    const version = await runOld(bin, "--version");
    expect(version).toMatchObject({ code: 0, stdout: `${pkg.version}\n`, stderr: "" });

    // A real command through the installed copy: embedded database, policies and all, in cwd.
    const bootstrap = await run(bin, ["bootstrap", "--json"], {
      cwd: elsewhere,
      env: { PATH: oldPath, HOME: scratch, STORAGE_BACKEND: "local", LOG_LEVEL: "silent" },
    });
    expect(bootstrap, bootstrap.stderr).toMatchObject({ code: 0 });
    expect(JSON.parse(bootstrap.stdout)).toContainEqual(expect.objectContaining({ action: "created" }));
  }, 300_000); // installs 190 packages and starts the CLI four times: slow on a loaded machine

  it("from the checkout: npm install -g links it, and the command works", async () => {
    const prefix = join(scratch, "linked");
    const install = await run(
      npm,
      ["install", "-g", "--prefix", prefix, ROOT, "--no-audit", "--no-fund", "--offline"],
      { cwd: elsewhere, env: cleanEnv({}) },
    );
    expect(install, install.stderr).toMatchObject({ code: 0 });
    const version = await runOld(join(prefix, "bin/lumenslate-storage"), "--version");
    expect(version).toMatchObject({ code: 0, stdout: `${pkg.version}\n`, stderr: "" });
  });
});

describe("npm exec --prefix <repo> from another directory", () => {
  it("runs the repository's command, fetching nothing (--offline)", async () => {
    const help = await run(
      npm,
      ["exec", "--offline", "--prefix", ROOT, "lumenslate-storage", "--", "--help"],
      {
        cwd: elsewhere,
        env: { PATH: oldPath, HOME: scratch },
      },
    );
    expect(help, help.stderr).toMatchObject({
      code: 0,
      stdout: expect.stringContaining("Usage: lumenslate-storage"),
    });
  });
});
