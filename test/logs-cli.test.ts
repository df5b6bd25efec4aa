import { randomBytes } from "node:crypto";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { expect, it } from "vitest";
import type { CliRun } from "./support/cli.ts";
import { describeBothModes } from "./support/cli-modes.ts";

/**
 * `logs upload|read|compact|rotate` in local mode (embedded PGlite, filesystem backend) and in
 * remote mode against a running service (--endpoint/--token), with the same output either way.
 */

function json<T>(run: CliRun): T {
  expect({ code: run.code, stderr: run.stderr }).toEqual({ code: 0, stderr: "" });
  return JSON.parse(run.stdout) as T;
}

function workflow(cli: (...argv: string[]) => Promise<CliRun>, label: string) {
  it("uploads, reads a day back in order, compacts, and rotates only with --apply", async () => {
    const svc = `${label}-${randomBytes(3).toString("hex")}`;
    const old = new Date(Date.now() - 45 * 86_400_000).toISOString().slice(0, 10);
    const a = join(modes.tmp, `${svc}-a.log`);
    const b = join(modes.tmp, `${svc}-b.log`);
    await writeFile(a, "one\ntwo ERROR\n");
    await writeFile(b, "three");
    const up = json<{ key: string; size: number }>(
      await cli("logs", "upload", svc, "2026-12-01", "5", a, "--json"),
    );
    expect(up.key).toMatch(new RegExp(`^${svc}/2026-12-01/05/_parts/app/.+\\.log\\.gz$`));
    json(await cli("logs", "upload", svc, "2026-12-01", "06", b, "--json"));
    json(await cli("logs", "upload", svc, old, "0", a, "--json"));

    expect(await cli("logs", "read", svc, "2026-12-01")).toMatchObject({
      code: 0,
      stdout: "one\ntwo ERROR\nthree\n",
    });
    expect(await cli("logs", "read", svc, "2026-12-01", "--contains", "ERROR")).toMatchObject({
      code: 0,
      stdout: "two ERROR\n",
    });
    const compact = json<{ objects: number; parts: number }>(
      await cli("logs", "compact", svc, "2026-12-01", "05", "--json"),
    );
    expect(compact).toMatchObject({ objects: 1, parts: 1 });

    const dry = json<{ dryRun: boolean; objects: number; deleted: number }>(
      await cli("logs", "rotate", svc, "--retention-days", "30", "--json"),
    );
    expect(dry).toMatchObject({ dryRun: true, objects: 1, deleted: 0 });
    expect((await cli("logs", "read", svc, old)).stdout).toBe("one\ntwo ERROR\n");
    const done = json<{ dryRun: boolean; deleted: number }>(
      await cli("logs", "rotate", svc, "--retention-days", "30", "--apply", "--json"),
    );
    expect(done).toMatchObject({ dryRun: false, deleted: 1 });
    expect(await cli("logs", "read", svc, old)).toMatchObject({ code: 0, stdout: "" });
    expect((await cli("logs", "read", svc, "2026-12-01")).stdout).toBe("one\ntwo ERROR\nthree\n");
  });

  it("refuses a bad date before anything is stored", async () => {
    const file = join(modes.tmp, `${label}-bad.log`);
    await writeFile(file, "x\n");
    const run = await cli("logs", "upload", `${label}-bad`, "2026-02-30", "1", file);
    expect(run.code).not.toBe(0);
    expect(run.stderr).toMatch(/YYYY-MM-DD/);
    expect(await cli("logs", "read", `${label}-bad`, "2026-02-28")).toMatchObject({ code: 0, stdout: "" });
  });
}

const modes = describeBothModes("logs", workflow);
