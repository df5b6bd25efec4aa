import { chmod, mkdir, mkdtemp, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ensurePrivateDir, makeTreePrivate } from "./private-fs.ts";

describe("ensurePrivateDir", () => {
  let dir: string;
  let umask: number;

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), "lumenslate-private-"));
    umask = process.umask(0);
  });
  afterEach(async () => {
    process.umask(umask);
    await rm(dir, { recursive: true, force: true });
  });

  it("creates missing directories 0700 under a loose umask", async () => {
    await ensurePrivateDir(join(dir, "data", "pglite"));
    expect((await stat(join(dir, "data"))).mode & 0o777).toBe(0o700);
    expect((await stat(join(dir, "data", "pglite"))).mode & 0o777).toBe(0o700);
  });

  it("tightens an existing world-readable directory to 0700", async () => {
    const loose = join(dir, "objects");
    await mkdir(loose);
    await chmod(loose, 0o777);
    await ensurePrivateDir(loose);
    expect((await stat(loose)).mode & 0o777).toBe(0o700);
  });

  it("strips group and other bits from every file and directory below a tree, keeping the owner's", async () => {
    await mkdir(join(dir, "db", "global"), { recursive: true, mode: 0o777 });
    await writeFile(join(dir, "db", "global", "1213"), "", { mode: 0o666 });
    await writeFile(join(dir, "db", "pg_internal.init"), "", { mode: 0o644 });
    await writeFile(join(dir, "db", "tool"), "", { mode: 0o755 });
    await makeTreePrivate(join(dir, "db"));
    expect((await stat(join(dir, "db", "global"))).mode & 0o777).toBe(0o700);
    expect((await stat(join(dir, "db", "global", "1213"))).mode & 0o777).toBe(0o600);
    expect((await stat(join(dir, "db", "pg_internal.init"))).mode & 0o777).toBe(0o600);
    expect((await stat(join(dir, "db", "tool"))).mode & 0o777).toBe(0o700);
  });
});
