import { mkdtemp, readFile, rm, stat, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ConfigError } from "../config/config.ts";
import { Secret } from "../config/secret.ts";
import { writeKeyFile } from "./key-file.ts";

const TOKEN = `lss_${"a".repeat(16)}_${"B".repeat(43)}`;

describe("writeKeyFile", () => {
  let dir: string;
  let umask: number;

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), "lumenslate-keyfile-"));
    // The loosest umask there is: the modes must not depend on the one the process inherited.
    umask = process.umask(0);
  });
  afterEach(async () => {
    process.umask(umask);
    await rm(dir, { recursive: true, force: true });
  });

  it("writes the token to a new 0600 file, creating missing directories 0700", async () => {
    const file = join(dir, "data", "keys", "admin-key");
    await writeKeyFile(file, new Secret(TOKEN));
    expect(await readFile(file, "utf8")).toBe(`${TOKEN}\n`);
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    expect((await stat(join(dir, "data"))).mode & 0o777).toBe(0o700);
    expect((await stat(join(dir, "data", "keys"))).mode & 0o777).toBe(0o700);
  });

  it("refuses to overwrite an existing file, naming the path and never the token", async () => {
    const file = join(dir, "admin-key");
    await writeFile(file, "the key of an earlier install\n");
    const err = await writeKeyFile(file, new Secret(TOKEN)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as Error).message).toContain(file);
    expect((err as Error).message).toMatch(/already exists/);
    expect((err as Error).message).not.toContain(TOKEN);
    expect(await readFile(file, "utf8")).toBe("the key of an earlier install\n");
  });

  it("does not follow a link planted at the path", async () => {
    const victim = join(dir, "victim");
    await writeFile(victim, "untouched");
    const file = join(dir, "admin-key");
    await symlink(victim, file);
    await expect(writeKeyFile(file, new Secret(TOKEN))).rejects.toBeInstanceOf(ConfigError);
    expect(await readFile(victim, "utf8")).toBe("untouched");
    // A dangling link too: O_EXCL refuses it rather than creating its target.
    const dangling = join(dir, "dangling");
    await symlink(join(dir, "nowhere"), dangling);
    await expect(writeKeyFile(dangling, new Secret(TOKEN))).rejects.toBeInstanceOf(ConfigError);
    await expect(stat(join(dir, "nowhere"))).rejects.toMatchObject({ code: "ENOENT" });
  });

  it("reports a directory it cannot create as a ConfigError", async () => {
    const blocker = join(dir, "not-a-dir");
    await writeFile(blocker, "");
    const err = await writeKeyFile(join(blocker, "admin-key"), new Secret(TOKEN)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as Error).message).toMatch(/directory could not be created \(E[A-Z]+\)/);
  });
});
