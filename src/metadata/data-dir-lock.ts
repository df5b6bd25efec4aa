import { createHash } from "node:crypto";
import { readFileSync, unlinkSync } from "node:fs";
import { unlink } from "node:fs/promises";
import { hostname as osHostname } from "node:os";
import path from "node:path";
import { setTimeout as delay } from "node:timers/promises";
import { z } from "zod";
import { StorageError } from "../errors.ts";
import { unless } from "../private-fs.ts";
import { createExclusive, readText, replace } from "./exclusive-file.ts";

/**
 * An embedded PGlite directory belongs to one process: a second PGlite on the same files does not
 * see the first one's writes and can corrupt them. A lock file inside the directory says who holds
 * it (and, once `serve` listens, where its service answers, so the CLI can go there instead).
 *
 * No kernel lock (flock) is at hand in Node, so the file is the lock: it is created exclusively and
 * is stale once its holder is gone, which is knowable only on the holder's own host (is the pid
 * alive?). A lock from another host (a shared volume) is never taken over.
 */
export const LOCK_FILE_NAME = "lumenslate.lock";

const lockInfoSchema = z.object({
  pid: z.number().int().positive(),
  hostname: z.string(),
  startedAt: z.string(),
  command: z.string(),
  http: z.string().optional(),
  grpc: z.string().optional(),
});

export type LockInfo = z.infer<typeof lockInfoSchema>;

/** A take-over claim names its claimer only. */
const claimSchema = lockInfoSchema.pick({ pid: true, hostname: true });

export interface DataDirLock {
  readonly info: LockInfo;
  /** Records where the holder's service answers (rewritten atomically: readers see old or new). */
  update(addresses: { http?: string; grpc?: string }): Promise<void>;
  release(): Promise<void>;
}

/** How often to look again while another process is between two steps (taking over, releasing). */
const RETRY_MS = 20;
const MAX_ATTEMPTS = 150;
/** Take-over claims on one stale lock: the next one is tried only when the previous claimer died. */
const MAX_CLAIMS = 20;

/**
 * Lock and claim files this process holds or is creating, counted per path. A record naming our own
 * pid is alive only if its path is counted here: otherwise it was left by an earlier process that had
 * our pid (a container's pid 1, restarted). Counted before the file appears, so that a second opener
 * in this process never sees it unowned.
 */
const owned = new Map<string, number>();

function own(file: string, delta: 1 | -1): void {
  const count = (owned.get(file) ?? 0) + delta;
  if (count > 0) owned.set(file, count);
  else owned.delete(file);
}

/** createExclusive(), counted in `owned` while it runs and afterwards if it succeeded. */
async function createOwned(file: string, content: string): Promise<boolean> {
  own(file, 1);
  let created = false;
  try {
    created = await createExclusive(file, content);
    return created;
  } finally {
    if (!created) own(file, -1);
  }
}

const lockPath = (dir: string) => path.join(dir, LOCK_FILE_NAME);

export async function acquireDataDirLock(dataDir: string, info: { command: string }): Promise<DataDirLock> {
  const dir = path.resolve(dataDir); // messages name it wherever the reader runs from
  const file = lockPath(dir);
  const me = { pid: process.pid, hostname: osHostname() };
  const mine: LockInfo = { ...me, startedAt: new Date().toISOString(), command: info.command };
  let unreadable = 0;
  for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
    if (await createOwned(file, serialize(mine))) return holdLock(file, mine);
    const raw = await readText(file);
    if (raw === undefined) continue; // released meanwhile: try again at once
    const holder = parse(lockInfoSchema, raw);
    if (!holder) {
      // Only a file being written where hard links are unsupported is briefly empty; else it is junk.
      if (++unreadable > 5) throw unreadableError(dir, file);
    } else if (!isStale(file, holder, me.hostname)) {
      throw lockedError(dir, file, holder, me.hostname);
    } else if (await takeOver(file, raw, serialize(mine), me)) {
      return holdLock(file, mine);
    }
    await delay(RETRY_MS);
  }
  throw new StorageError(
    "UNAVAILABLE",
    `Could not take the lock on the embedded database in ${dir}: other processes kept taking it at the same time. Try again.`,
  );
}

/** The live holder of `dir`'s lock, or undefined when there is none (no file, stale, unreadable). */
export async function readDataDirLock(dir: string): Promise<LockInfo | undefined> {
  const file = lockPath(path.resolve(dir));
  const raw = await readText(file);
  const holder = raw === undefined ? undefined : parse(lockInfoSchema, raw);
  return holder && !isStale(file, holder, osHostname()) ? holder : undefined;
}

/** The name a lock records for this process: the CLI's command words, never its options or values. */
export function describeProcess(argv: readonly string[] = process.argv): string {
  const words: string[] = [];
  for (const word of argv.slice(2)) {
    if (words.length === 2 || !/^[a-z][a-z0-9-]*$/.test(word)) break;
    words.push(word);
  }
  return ["lumenslate-storage", ...words].join(" ");
}

/** Wraps a lock this process has just written (and counted in `owned`). */
function holdLock(file: string, info: LockInfo): DataDirLock {
  let current = serialize(info);
  let released = false;
  // Last resort for an exit that skips release() (process.exit, a second signal): a sync unlink.
  const onExit = () => {
    try {
      if (readFileSync(file, "utf8") === current) unlinkSync(file);
    } catch {
      // gone already, or unreadable: a later start judges it by its pid
    }
  };
  process.on("exit", onExit);
  const lock: DataDirLock = {
    info,
    update: async (addresses) => {
      if (released) return;
      Object.assign(info, addresses);
      const next = serialize(info);
      await replace(file, next);
      current = next;
    },
    release: async () => {
      if (released) return;
      released = true;
      process.off("exit", onExit);
      // Ours unless someone removed it by hand; then leave whatever is there alone.
      try {
        if ((await readText(file)) === current) await unlink(file).catch(unless("ENOENT"));
      } finally {
        own(file, -1);
      }
    },
  };
  return lock;
}

/**
 * Replaces the stale lock `staleRaw` with `mineRaw` so that, of any number of processes trying at
 * once, one succeeds. Removing the stale file and then creating a new one would not do: a slow
 * process could remove the lock its faster rival has just created. So a taker first claims this
 * stale content exclusively (a claim file named after its hash) and replaces the lock in one rename
 * only while it still holds that content. Nobody else can change it meanwhile: its holder is dead,
 * a new lock cannot be created over it, and rivals lack the claim. A claimer that died leaves its
 * claim behind; the next claim number is tried only then, so at most one live claimer exists.
 */
async function takeOver(
  file: string,
  staleRaw: string,
  mineRaw: string,
  me: { pid: number; hostname: string },
): Promise<boolean> {
  const tag = createHash("sha256").update(staleRaw).digest("hex").slice(0, 16);
  const claimOf = (n: number) => `${file}.takeover-${tag}-${n}`;
  for (let n = 1; n <= MAX_CLAIMS; n++) {
    const claim = claimOf(n);
    if (await createOwned(claim, JSON.stringify({ pid: me.pid, hostname: me.hostname }))) {
      let replaced = false;
      own(file, 1);
      try {
        if ((await readText(file)) !== staleRaw) return false; // taken over already
        await replace(file, mineRaw);
        replaced = true;
        return true;
      } finally {
        if (!replaced) own(file, -1);
        own(claim, -1);
        // Once the stale content is gone it never comes back, so every claim on it is moot; while it
        // is still there (a failed write), earlier dead claims must stay or a newcomer could start
        // again at claim 1 beside a live claimer further up.
        const moot = replaced ? Array.from({ length: n }, (_, i) => claimOf(i + 1)) : [claim];
        await Promise.all(moot.map((path) => unlink(path).catch(unless("ENOENT"))));
      }
    }
    const raw = await readText(claim);
    const claimer = raw === undefined ? undefined : parse(claimSchema, raw);
    // Vanished (done or given up), half-written, or alive: look at the lock again from the start.
    if (!claimer || !isStale(claim, claimer, me.hostname)) return false;
  }
  return false;
}

function isStale(file: string, holder: { pid: number; hostname: string }, hostname: string): boolean {
  if (holder.hostname !== hostname) return false; // its pid means nothing here
  if (holder.pid === process.pid) return !owned.has(file);
  try {
    process.kill(holder.pid, 0);
    return false;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "ESRCH"; // EPERM: alive, someone else's
  }
}

function lockedError(dir: string, file: string, holder: LockInfo, hostname: string): StorageError {
  const where = [holder.command, `started ${holder.startedAt}`];
  const who = `pid ${holder.pid} on ${holder.hostname === hostname ? "this host" : `host ${holder.hostname}`} (${where.filter(Boolean).join(", ")})`;
  let todo: string;
  if (holder.hostname !== hostname) {
    todo = `A lock from another host is never taken over: stop that process, or, only if you are sure nothing uses ${dir}, remove ${file} by hand.`;
  } else if (holder.http) {
    todo = `Send requests to that service at ${holder.http} (the CLI does so by itself), or stop that process first.`;
  } else {
    todo =
      "Wait for it to finish or stop it; a `serve` still starting records its address once it listens, and the CLI then uses that service by itself.";
  }
  return new StorageError(
    "UNAVAILABLE",
    `The embedded database in ${dir} is in use by ${who}; one process at a time may open it. ${todo}`,
    {
      holderPid: holder.pid,
      holderHostname: holder.hostname,
      holderCommand: holder.command,
      http: holder.http,
    },
  );
}

function unreadableError(dir: string, file: string): StorageError {
  return new StorageError(
    "UNAVAILABLE",
    `The lock file ${file} cannot be read as a lumenslate-storage lock. If no process uses the embedded database in ${dir}, remove that file and try again.`,
  );
}

const serialize = (info: LockInfo) => `${JSON.stringify(info)}\n`;

function parse<T>(schema: z.ZodType<T>, raw: string): T | undefined {
  try {
    const parsed = schema.safeParse(JSON.parse(raw));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined; // not JSON (yet)
  }
}
