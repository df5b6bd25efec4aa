import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { expect, it } from "vitest";
import type { CliRun } from "./support/cli.ts";
import { describeBothModes } from "./support/cli-modes.ts";
import { untilPassed } from "./support/temp.ts";

/**
 * `temp put|get|sweep` in local mode (embedded PGlite, filesystem backend) and in remote mode
 * against a running service (--endpoint/--token), with the same output either way.
 */

function json<T>(run: CliRun): T {
  expect({ code: run.code, stderr: run.stderr }).toEqual({ code: 0, stderr: "" });
  return JSON.parse(run.stdout) as T;
}

interface Sweep {
  dryRun: boolean;
  deleted: number;
  bytes: number;
  failed: number;
}

function workflow(cli: (...argv: string[]) => Promise<CliRun>, label: string) {
  it("puts with a TTL, gets a live object, refuses an expired one; sweep --dry-run keeps, sweep deletes", async () => {
    const file = join(modes.tmp, `${label}-in.txt`);
    await writeFile(file, "temp via cli");
    const put = json<{ key: string; size: number; expiresAt: string }>(
      await cli("temp", "put", file, `${label}/a.txt`, "--ttl", "2", "--json"),
    );
    expect(put).toMatchObject({ key: `${label}/a.txt`, size: 12 });
    const live = json<{ key: string; size: number; expiresAt: string }>(
      await cli("temp", "put", file, `${label}/live.txt`, "--ttl", "1h", "--json"),
    );
    expect(live.size).toBe(12);

    // Reads are checked on the long-lived object: a local-mode command takes its own start-up
    // time, so whether the 2 s one is still readable by then is not for this test to guess.
    const out = join(modes.tmp, `${label}-out.txt`);
    const got = json<{ size: number; expiresAt: string }>(
      await cli("temp", "get", `${label}/live.txt`, out, "--json"),
    );
    expect(got).toMatchObject({ size: 12, expiresAt: live.expiresAt });
    expect(await readFile(out, "utf8")).toBe("temp via cli");

    await untilPassed(put.expiresAt);
    const refused = await cli("temp", "get", `${label}/a.txt`, join(modes.tmp, `${label}-late.txt`));
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toMatch(/expired at/);

    const dry = json<Sweep>(await cli("temp", "sweep", "--dry-run", "--json"));
    expect(dry).toMatchObject({ dryRun: true, failed: 0 });
    expect(dry.deleted).toBeGreaterThanOrEqual(1);
    const swept = json<Sweep>(await cli("temp", "sweep", "--batch-size", "1", "--json"));
    expect(swept).toMatchObject({ dryRun: false, deleted: dry.deleted, bytes: dry.bytes, failed: 0 });
    expect(json<Sweep>(await cli("temp", "sweep", "--json")).deleted).toBe(0);

    const text = await cli("temp", "get", `${label}/live.txt`, "-");
    expect(text).toMatchObject({ code: 0, stdout: "temp via cli" });
  });

  it("refuses a bad --ttl before sending anything", async () => {
    const file = join(modes.tmp, `${label}-bad.txt`);
    await writeFile(file, "x");
    const run = await cli("temp", "put", file, `${label}/bad.txt`, "--ttl", "soon");
    expect(run.code).not.toBe(0);
    expect(run.stderr).toMatch(/--expires expects|duration/);
  });
}

const modes = describeBothModes("temp", workflow);
