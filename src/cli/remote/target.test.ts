import { mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { StorageError } from "../../errors.ts";
import { type Profile, profilePath, readProfile, writeProfile } from "./profile.ts";
import { type LockHolder, normaliseUrl, resolveTarget, type TargetSources } from "./target.ts";

const LOCK: LockHolder = { pid: 4242, command: "lumenslate-storage serve", http: "http://127.0.0.1:8080" };

/** Sources with nothing set; `over` adds what a case needs. Unused readers fail the test if called. */
function sources(over: Partial<TargetSources> & { profileValue?: Profile; lock?: LockHolder } = {}) {
  const calls = { profile: 0, lock: 0, keyFile: 0 };
  const { profileValue, lock, ...rest } = over;
  const s: TargetSources = {
    flags: {},
    env: {},
    profile: {
      path: "/home/u/.config/lumenslate-storage/profile.json",
      read: async () => {
        calls.profile++;
        return profileValue;
      },
    },
    readLock: async () => {
      calls.lock++;
      return lock;
    },
    readKeyFile: async () => {
      calls.keyFile++;
      return "lss_bootstrap_key";
    },
    ...rest,
  };
  return { s, calls };
}

describe("remote target resolution", () => {
  it("is local mode when nothing names a service", async () => {
    const { s, calls } = sources();
    expect(await resolveTarget(s)).toBeUndefined();
    expect(calls).toMatchObject({ profile: 1, lock: 1, keyFile: 0 });
  });

  it("takes flags before the environment, the environment before the profile, the profile before the lock", async () => {
    const profileValue = { url: "http://profile:1", token: "lss_p" };
    const env = { LUMENSLATE_URL: "http://env:2", LUMENSLATE_TOKEN: "lss_e" };
    const flags = { endpoint: "http://flag:3/", token: "lss_f" };
    const all = sources({ flags, env, profileValue, lock: LOCK });
    expect(await resolveTarget(all.s)).toEqual({
      url: "http://flag:3",
      token: "lss_f",
      origin: "from --endpoint",
    });
    expect(all.calls.lock).toBe(0);

    const noFlags = sources({ env, profileValue, lock: LOCK });
    expect(await resolveTarget(noFlags.s)).toEqual({
      url: "http://env:2",
      token: "lss_e",
      origin: "from LUMENSLATE_URL",
    });

    const profileOnly = sources({ profileValue, lock: LOCK });
    expect(await resolveTarget(profileOnly.s)).toEqual({
      url: "http://profile:1",
      token: "lss_p",
      origin: "from the profile /home/u/.config/lumenslate-storage/profile.json",
    });
    expect(profileOnly.calls.lock).toBe(0);

    const lockOnly = sources({ lock: LOCK });
    expect(await resolveTarget(lockOnly.s)).toEqual({
      url: "http://127.0.0.1:8080",
      token: "lss_bootstrap_key",
      origin: expect.stringContaining("lumenslate-storage serve (pid 4242)"),
    });
  });

  it("takes the token by the same order, whatever named the URL", async () => {
    const flagToken = sources({ flags: { token: "lss_f" }, env: { LUMENSLATE_URL: "http://env:2" } });
    expect(await resolveTarget(flagToken.s)).toMatchObject({ url: "http://env:2", token: "lss_f" });
    const envToken = sources({ flags: { endpoint: "http://flag:3" }, env: { LUMENSLATE_TOKEN: "lss_e" } });
    expect(await resolveTarget(envToken.s)).toMatchObject({ url: "http://flag:3", token: "lss_e" });
    // The lock names the address; an explicit token wins over the key file, which is then not read.
    const lockWithToken = sources({ env: { LUMENSLATE_TOKEN: "lss_e" }, lock: LOCK });
    expect(await resolveTarget(lockWithToken.s)).toMatchObject({
      url: "http://127.0.0.1:8080",
      token: "lss_e",
    });
    expect(lockWithToken.calls.keyFile).toBe(0);
  });

  it("sends the profile's token only to the profile's own URL", async () => {
    const profileValue = { url: "http://profile:1/", token: "lss_p" };
    const same = sources({ flags: { endpoint: "http://profile:1" }, profileValue });
    expect(await resolveTarget(same.s)).toEqual({
      url: "http://profile:1",
      token: "lss_p",
      origin: "from --endpoint",
    });
    const other = sources({ env: { LUMENSLATE_URL: "http://elsewhere:1" }, profileValue });
    expect(await resolveTarget(other.s)).toEqual({
      url: "http://elsewhere:1",
      origin: "from LUMENSLATE_URL",
    });
  });

  it("does not read a profile it does not need, so a broken one cannot stand in the way", async () => {
    const broken = sources({
      flags: { endpoint: "http://flag:3", token: "lss_f" },
      profile: {
        path: "p",
        read: async () => {
          throw new StorageError("INVALID_ARGUMENT", "broken");
        },
      },
    });
    expect(await resolveTarget(broken.s)).toMatchObject({ url: "http://flag:3" });
  });

  it("falls back to local mode when the lock's holder has no service address", async () => {
    const { s } = sources({ lock: { pid: 1, command: "lumenslate-storage keys list" } });
    expect(await resolveTarget(s)).toBeUndefined();
  });

  it("ignores empty variables and refuses URLs that are not http(s)", async () => {
    const empty = sources({ env: { LUMENSLATE_URL: "  ", LUMENSLATE_TOKEN: "" } });
    expect(await resolveTarget(empty.s)).toBeUndefined();
    for (const bad of ["ftp://x", "not a url", "http://u:p@host", "http://host/?q=1"]) {
      const { s } = sources({ flags: { endpoint: bad } });
      await expect(resolveTarget(s), bad).rejects.toMatchObject({
        code: "INVALID_ARGUMENT",
        details: { field: "--endpoint" },
      });
    }
    expect(normaliseUrl("https://host:8443/storage/", "x")).toBe("https://host:8443/storage");
  });
});

describe("profile file", () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "lumenslate-profile-"));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("lives under XDG_CONFIG_HOME, else ~/.config, else nowhere", () => {
    expect(profilePath({ XDG_CONFIG_HOME: "/x", HOME: "/h" })).toBe("/x/lumenslate-storage/profile.json");
    expect(profilePath({ HOME: "/h" })).toBe("/h/.config/lumenslate-storage/profile.json");
    expect(profilePath({})).toBeUndefined();
  });

  it("is written 0600 in a 0700 directory and read back", async () => {
    const file = join(dir, "cfg", "lumenslate-storage", "profile.json");
    expect(await readProfile(file)).toBeUndefined();
    await writeProfile(file, { url: "http://h:1", token: "lss_t" });
    await writeProfile(file, { url: "http://h:2", token: "lss_u" }); // replaced, not refused
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    expect((await stat(join(dir, "cfg", "lumenslate-storage"))).mode & 0o777).toBe(0o700);
    expect(await readProfile(file)).toEqual({ url: "http://h:2", token: "lss_u" });
    expect(JSON.parse(await readFile(file, "utf8"))).toEqual({ url: "http://h:2", token: "lss_u" });
  });

  it("reports a broken profile with what to do", async () => {
    const file = join(dir, "broken.json");
    await writeFile(file, "{nope");
    await expect(readProfile(file)).rejects.toMatchObject({
      code: "INVALID_ARGUMENT",
      message: expect.stringContaining("login"),
    });
    await writeFile(file, JSON.stringify({ url: 5 }));
    await expect(readProfile(file)).rejects.toMatchObject({ code: "INVALID_ARGUMENT" });
  });
});
