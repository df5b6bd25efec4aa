import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect } from "vitest";
import { type CliRun, runCli } from "./cli.ts";
import { testEnv } from "./config.ts";
import { type HttpHarness, startHttp } from "./http.ts";

export type Cli = (...argv: string[]) => Promise<CliRun>;

/**
 * Runs one CLI workflow twice: in local mode (embedded PGlite and the filesystem backend in a temp
 * directory, bootstrapped first) and in remote mode against a running service on MinIO
 * (--endpoint/--token), so a command proves the same behaviour either way. `tmp` is the suite's
 * scratch directory, set before any test runs.
 */
export function describeBothModes(
  area: string,
  workflow: (cli: Cli, label: string) => void,
  labels: { local: string; remote: string } = { local: "local", remote: "remote" },
): { readonly tmp: string } {
  const state = { tmp: "" };
  beforeAll(async () => {
    state.tmp = await mkdtemp(join(tmpdir(), `${area}-cli-`));
  });
  afterAll(async () => {
    if (state.tmp) await rm(state.tmp, { recursive: true, force: true });
  });

  describe(`${area} commands in local mode`, () => {
    let env: Record<string, string>;
    beforeAll(async () => {
      const { DATABASE_URL: _server, ...base } = testEnv({
        PGLITE_DATA_DIR: join(state.tmp, "pglite"),
        STORAGE_BACKEND: "local",
        STORAGE_LOCAL_ROOT: join(state.tmp, "objects"),
      });
      env = { ...base, HOME: state.tmp, XDG_CONFIG_HOME: join(state.tmp, "xdg") };
      expect(await runCli(env, "bootstrap")).toMatchObject({ code: 0 });
    });
    workflow((...argv) => runCli(env, ...argv), labels.local);
  });

  describe(`${area} commands in remote mode`, () => {
    let h: HttpHarness;
    beforeAll(async () => {
      h = await startHttp("minio", { RATE_LIMIT_ENABLED: "false" });
    });
    afterAll(async () => {
      await h?.close();
    });
    workflow(
      (...argv) =>
        runCli(
          { XDG_CONFIG_HOME: join(state.tmp, "xdg") },
          ...argv,
          "--endpoint",
          h.base,
          "--token",
          h.token,
        ),
      labels.remote,
    );
  });
  return state;
}
