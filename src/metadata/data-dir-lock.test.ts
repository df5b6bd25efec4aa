import { type ChildProcessWithoutNullStreams, spawn, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { lstat, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { hostname, tmpdir } from "node:os";
import { join, relative } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { StorageError } from "../errors.ts";
import {
  acquireDataDirLock,
  type DataDirLock,
  describeProcess,
  LOCK_FILE_NAME,
  type LockInfo,
  readDataDirLock,
} from "./data-dir-lock.ts";

/** The pid of a process that has run and exited: not alive any more. */
function deadPid(): number {
  const child = spawnSync(process.execPath, ["-e", ""]);
  if (!child.pid) throw new Error("could not start a process");
  return child.pid;
}

/**
 * Another process that loads this module, says "ready", tries to take the lock on "go", reports
 * "won" or "lost <code>", and holds what it won until its stdin closes.
 */
const RACER = `
const [module, dir] = process.argv.slice(1);
const { acquireDataDirLock } = await import(module);
const lines = (await import("node:readline")).createInterface({ input: process.stdin });
process.stdout.write("ready\\n");
let lock;
for await (const line of lines) {
  if (line !== "go") continue;
  try {
    lock = await acquireDataDirLock(dir, { command: "racer " + process.pid });
    process.stdout.write("won\\n");
  } catch (err) {
    process.stdout.write("lost " + err.code + "\\n");
  }
}
await lock?.release();
`;

interface Racer {
  child: ChildProcessWithoutNullStreams;
  next(): Promise<string>;
}

function startRacer(dir: string): Racer {
  const module = fileURLToPath(new URL("./data-dir-lock.ts", import.meta.url));
  const child = spawn(process.execPath, ["--input-type=module", "-e", RACER, module, dir]);
  const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  let stderr = "";
  child.stderr.on("data", (chunk: Buffer) => (stderr += chunk));
  return {
    child,
    next: async () => {
      const { value, done } = await lines.next();
      if (done) throw new Error(`racer ${child.pid} ended: ${stderr}`);
      return value;
    },
  };
}

/** Starts `count` processes, lets them go at once, and returns what each reported. */
async function race(dir: string, count: number): Promise<{ results: string[]; finish: () => Promise<void> }> {
  const racers = Array.from({ length: count }, () => startRacer(dir));
  for (const racer of racers) expect(await racer.next()).toBe("ready");
  for (const racer of racers) racer.child.stdin.write("go\n");
  const results = await Promise.all(racers.map((racer) => racer.next()));
  const finish = async () => {
    await Promise.all(
      racers.map(async ({ child }) => {
        const exited = new Promise((done) => child.once("exit", done));
        child.stdin.end();
        await exited;
      }),
    );
  };
  return { results, finish };
}

const lockOf = (info: Partial<LockInfo>): string =>
  `${JSON.stringify({ hostname: hostname(), startedAt: "2024-01-01T00:00:00.000Z", command: "lumenslate-storage serve", ...info })}\n`;

describe("data directory lock", () => {
  let dir: string;
  let file: string;
  const held: DataDirLock[] = [];
  const acquire = async (command = "test") => {
    const lock = await acquireDataDirLock(dir, { command });
    held.push(lock);
    return lock;
  };
  const refusal = async (): Promise<StorageError> => {
    const err = await acquire("second").then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(StorageError);
    return err as StorageError;
  };
  const onDisk = async () => JSON.parse(await readFile(file, "utf8")) as LockInfo;

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), "lumenslate-lock-"));
    file = join(dir, LOCK_FILE_NAME);
  });
  afterEach(async () => {
    for (const lock of held.splice(0)) await lock.release();
    await rm(dir, { recursive: true, force: true });
  });

  it("writes the holder to a private file and removes it on release", async () => {
    const lock = await acquire("lumenslate-storage serve");
    const info = await onDisk();
    expect(info).toEqual({
      pid: process.pid,
      hostname: hostname(),
      startedAt: expect.any(String),
      command: "lumenslate-storage serve",
    });
    expect(new Date(info.startedAt).toISOString()).toBe(info.startedAt);
    expect(lock.info).toEqual(info);
    expect((await lstat(file)).mode & 0o777).toBe(0o600);
    expect(await readDataDirLock(dir)).toEqual(info);
    expect(await readDataDirLock(relative(process.cwd(), dir))).toEqual(info); // same lock, any spelling

    await lock.release();
    await expect(lstat(file)).rejects.toMatchObject({ code: "ENOENT" });
    expect(await readDataDirLock(dir)).toBeUndefined();
    // Nothing else is left behind (temporary files), and the directory can be locked again.
    expect(await readdir(dir)).toEqual([]);
    await acquire();
  });

  it("records the service's addresses with update()", async () => {
    const lock = await acquire("lumenslate-storage serve");
    await lock.update({ http: "http://127.0.0.1:8080", grpc: "127.0.0.1:50051" });
    const info = await onDisk();
    expect(info).toMatchObject({ pid: process.pid, http: "http://127.0.0.1:8080", grpc: "127.0.0.1:50051" });
    expect(await readDataDirLock(dir)).toEqual(info);
    expect(await readdir(dir)).toEqual([LOCK_FILE_NAME]);
  });

  it("refuses a second holder while the first is alive, naming it and what to do", async () => {
    const first = await acquire("lumenslate-storage serve");
    await first.update({ http: "http://127.0.0.1:8080" });
    const err = await refusal();
    expect(err.code).toBe("UNAVAILABLE");
    expect(err.message).toContain(`pid ${process.pid} on this host`);
    expect(err.message).toContain("lumenslate-storage serve");
    expect(err.message).toContain("http://127.0.0.1:8080");
    expect(err.message).toMatch(/stop that process/);
    expect(err.details).toMatchObject({
      holderPid: process.pid,
      holderCommand: "lumenslate-storage serve",
      http: "http://127.0.0.1:8080",
    });
    // The holder's file is untouched.
    expect((await onDisk()).command).toBe("lumenslate-storage serve");
  });

  it("refuses while another live process holds it", async () => {
    // The parent (vitest's main process) is alive and is not this process.
    await writeFile(file, lockOf({ pid: process.ppid }));
    const err = await refusal();
    expect(err.details.holderPid).toBe(process.ppid);
    expect(err.message).toMatch(/Wait for it to finish or stop it/);
    expect((await onDisk()).pid).toBe(process.ppid);
    expect(await readDataDirLock(dir)).toMatchObject({ pid: process.ppid });
  });

  it("takes over a lock whose holder on this host is gone", async () => {
    const gone = deadPid();
    await writeFile(file, lockOf({ pid: gone, http: "http://127.0.0.1:1" }));
    expect(await readDataDirLock(dir)).toBeUndefined();
    const lock = await acquire("new holder");
    expect(await onDisk()).toEqual(lock.info);
    expect(lock.info).toMatchObject({ pid: process.pid, command: "new holder" });
    expect(lock.info.http).toBeUndefined();
    expect(await readdir(dir)).toEqual([LOCK_FILE_NAME]); // claims and temporary files cleaned up
  });

  it("takes over a lock left by an earlier process that had this pid (a restarted container)", async () => {
    await writeFile(file, lockOf({ pid: process.pid, command: "previous run" }));
    const lock = await acquire("this run");
    expect((await onDisk()).command).toBe("this run");
    await lock.release();
    await expect(lstat(file)).rejects.toMatchObject({ code: "ENOENT" });
  });

  it("never takes over a lock from another host, and says to remove it by hand", async () => {
    await writeFile(file, lockOf({ pid: deadPid(), hostname: "elsewhere.example" }));
    const err = await refusal();
    expect(err.code).toBe("UNAVAILABLE");
    expect(err.message).toContain("on host elsewhere.example");
    expect(err.message).toContain(`remove ${file} by hand`);
    expect(err.details.holderHostname).toBe("elsewhere.example");
    expect((await onDisk()).hostname).toBe("elsewhere.example");
    // Other tools are told it is held too: the pid means nothing on this host.
    expect(await readDataDirLock(dir)).toMatchObject({ hostname: "elsewhere.example" });
  });

  it("lets exactly one of many simultaneous acquirers win on a free directory", async () => {
    const results = await Promise.allSettled(Array.from({ length: 8 }, (_, i) => acquire(`racer ${i}`)));
    const won = results.filter((r) => r.status === "fulfilled");
    expect(won).toHaveLength(1);
    for (const r of results) {
      if (r.status === "rejected") expect(r.reason).toMatchObject({ code: "UNAVAILABLE" });
    }
    expect((await onDisk()).command).toBe((won[0] as PromiseFulfilledResult<DataDirLock>).value.info.command);
  });

  it("lets exactly one of many simultaneous acquirers take over a stale lock", async () => {
    await writeFile(file, lockOf({ pid: deadPid() }));
    const results = await Promise.allSettled(Array.from({ length: 8 }, (_, i) => acquire(`racer ${i}`)));
    const won = results.filter((r) => r.status === "fulfilled");
    expect(won).toHaveLength(1);
    const losers = results.filter((r) => r.status === "rejected");
    expect(losers).toHaveLength(7);
    for (const r of losers)
      expect(r.reason).toMatchObject({ code: "UNAVAILABLE", details: { holderPid: process.pid } });
    const winner = (won[0] as PromiseFulfilledResult<DataDirLock>).value;
    expect(await onDisk()).toEqual(winner.info);
    expect(await readdir(dir)).toEqual([LOCK_FILE_NAME]);
  });

  it("lets exactly one of several processes starting at once take a free or a stale lock", async () => {
    for (const stale of [false, true, true]) {
      if (stale) await writeFile(file, lockOf({ pid: deadPid() }));
      const { results, finish } = await race(dir, 5);
      try {
        expect(results.filter((r) => r === "won")).toHaveLength(1);
        expect(results.filter((r) => r === "lost UNAVAILABLE")).toHaveLength(4);
        expect((await onDisk()).command).toMatch(/^racer \d+$/);
      } finally {
        await finish();
      }
      expect(await readdir(dir)).toEqual([]); // the winner released it on exit; nothing left over
    }
  }, 60_000);

  it("passes over a take-over claim whose claimer died", async () => {
    const stale = lockOf({ pid: deadPid() });
    await writeFile(file, stale);
    // A claimer that died between claiming and replacing: its claim must not block everyone after it.
    const tag = createHash("sha256").update(stale).digest("hex").slice(0, 16);
    await writeFile(`${file}.takeover-${tag}-1`, JSON.stringify({ pid: deadPid(), hostname: hostname() }));
    const lock = await acquire("after a dead claimer");
    expect((await onDisk()).command).toBe("after a dead claimer");
    expect(lock.info.pid).toBe(process.pid);
    expect(await readdir(dir)).toEqual([LOCK_FILE_NAME]);
  });

  it("refuses an unreadable lock file instead of guessing, and says how to recover", async () => {
    await writeFile(file, "not a lock");
    const err = await refusal();
    expect(err.code).toBe("UNAVAILABLE");
    expect(err.message).toContain(`remove that file`);
    expect(await readFile(file, "utf8")).toBe("not a lock");
  });

  it("leaves a lock alone that was replaced by hand after it was taken", async () => {
    const lock = await acquire();
    await writeFile(file, lockOf({ pid: process.ppid, command: "someone else" }));
    await lock.release();
    expect((await onDisk()).command).toBe("someone else");
  });

  it("names the process by its command words only, never option values", () => {
    expect(describeProcess(["node", "bin/lumenslate-storage.js", "serve"])).toBe("lumenslate-storage serve");
    expect(describeProcess(["node", "bin", "keys", "list", "--json"])).toBe("lumenslate-storage keys list");
    expect(describeProcess(["node", "bin", "put", "user-data", "/home/me/secret.txt"])).toBe(
      "lumenslate-storage put user-data",
    );
    expect(describeProcess(["node", "bin", "--token", "lss_abc_def", "ls"])).toBe("lumenslate-storage");
  });
});
