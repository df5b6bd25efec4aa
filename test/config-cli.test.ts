import { mkdtemp, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { expect, it } from "vitest";
import type { runCli } from "./support/cli.ts";
import { describeBothModes } from "./support/cli-modes.ts";

/**
 * `config put|get|history|diff|rollback|flag` as a person or a script runs them: in local mode
 * (embedded PGlite in a temp directory, filesystem backend) and in remote mode against a running
 * service's HTTP API, with the same output either way.
 */

function json<T>(run: { code: number; stdout: string; stderr: string }): T {
  expect({ code: run.code, stderr: run.stderr }).toEqual({ code: 0, stderr: "" });
  return JSON.parse(run.stdout) as T;
}

async function file(name: string, text: string): Promise<string> {
  const path = join(await mkdtemp(join(modes.tmp, "doc-")), name);
  await writeFile(path, text);
  return path;
}

function workflow(cli: (...argv: string[]) => ReturnType<typeof runCli>, author: string) {
  it("puts three versions, diffs, rolls back, and evaluates a flag", async () => {
    const broken = await cli("config", "put", "app/settings", await file("s.yaml", "a: 1\nb: [1\nc: 2\n"));
    expect(broken.code).not.toBe(0);
    expect(broken.stderr).toMatch(/line 3, column 1/);

    const v1 = json<{ version: number; author: string }>(
      await cli("config", "put", "app/settings", await file("s.yaml", "retries: 3\n"), "--json"),
    );
    expect(v1).toMatchObject({ version: 1, author });
    expect((await cli("config", "put", "app/settings", await file("s.yml", "retries: 4\n"))).stdout).toMatch(
      /stored app\/settings version 2/,
    );
    await cli("config", "put", "app/settings", await file("s.json", '{"retries": 5, "debug": true}'));

    const diff = await cli("config", "diff", "app/settings", "1", "3");
    expect(diff.stdout).toBe("+ /debug true\n~ /retries 3 -> 5\n");

    const rolled = json<{ version: number; restoredFrom: number }>(
      await cli("config", "rollback", "app/settings", "1", "--json"),
    );
    expect(rolled).toMatchObject({ version: 4, restoredFrom: 1 });
    expect((await cli("config", "get", "app/settings")).stdout).toBe("retries: 3\n");
    expect((await cli("config", "get", "app/settings", "--version", "3")).stdout).toBe(
      '{"retries": 5, "debug": true}',
    );
    const history = json<{ version: number }[]>(await cli("config", "history", "app/settings", "--json"));
    expect(history.map((h) => h.version)).toEqual([1, 2, 3, 4]);

    await cli(
      "config",
      "put",
      "flags/beta",
      await file("f.yaml", "enabled: true\nrollout: 0\nallow: [erin]\n"),
    );
    expect((await cli("config", "flag", "beta", "erin")).stdout).toBe("on (allowed, version 1)\n");
    expect((await cli("config", "flag", "beta", "frank")).stdout).toBe("off (not-in-rollout, version 1)\n");
  });
}

const modes = describeBothModes("config", workflow, { local: "cli", remote: "test-admin" });
