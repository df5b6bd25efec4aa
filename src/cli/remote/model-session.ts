import { createHash } from "node:crypto";
import { open, readFile, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import { isStorageError, StorageError } from "../../errors.ts";
import { ensurePrivateDir, PRIVATE_FILE_MODE } from "../../private-fs.ts";
import type { LocalModelFile } from "../models-api.ts";
import type { ServiceClient } from "./client.ts";

/**
 * `model push` of a large file through a resumable upload session (POST /v1/models/blobs/uploads,
 * then the core's /v1/uploads/{id} calls): each part is read from the file, hashed, and PUT straight
 * to the object store with the URL the service signs for that sha256, one part in memory at a time.
 * The session's id is kept in a small state file named by the file's sha256 (under the CLI's config
 * directory), so a push cut short and run again asks the session which parts the store holds and
 * sends only the others. The service checks the whole sha256 on completion; the state file goes
 * once the session is over either way.
 */

interface SessionJson {
  id: string;
  size: number;
  sha256: string;
  partSize: number;
  partCount: number;
  state: "open" | "completed" | "aborted";
  expiresAt: string;
}
interface StatusJson extends SessionJson {
  parts: { partNumber: number; size: number }[];
}
interface PartUrlJson {
  partNumber: number;
  url: string;
  method: string;
  headers: Record<string, string>;
}
/** What a state file holds: which service, which of its sessions, for a file of which size. */
interface SessionState {
  base: string;
  id: string;
  size: number;
}

export interface SessionPush {
  /** Where state files go; without one a cut push starts a new session when run again. */
  stateDir: string | undefined;
  signal: AbortSignal;
  onRead: (bytes: number) => void;
}

/** The state file of a file's session: `<stateDir>/<sha256 of the file>.json`. */
export const sessionStatePath = (stateDir: string, sha256: string) => path.join(stateDir, `${sha256}.json`);

/** `${XDG_CONFIG_HOME:-$HOME/.config}/lumenslate-storage/uploads`, or undefined without either variable. */
export function sessionStateDir(env: Record<string, string | undefined>): string | undefined {
  const base = env.XDG_CONFIG_HOME || (env.HOME ? path.join(env.HOME, ".config") : undefined);
  return base ? path.join(base, "lumenslate-storage", "uploads") : undefined;
}

/**
 * Uploads one file's blob through a session; "unsupported" when the service has no sessions (the
 * local backend: the caller streams the file instead). Resolves with how many parts an earlier,
 * cut run had left in the store (0 for a new session or a blob the service held already).
 */
export async function pushThroughSession(
  client: ServiceClient,
  f: LocalModelFile,
  sha256: string,
  opts: SessionPush,
): Promise<{ resumedParts: number } | "unsupported"> {
  const statePath = opts.stateDir ? sessionStatePath(opts.stateDir, sha256) : undefined;
  let session = statePath ? await resumable(client, statePath, f.size, sha256) : undefined;
  if (!session) {
    const opened = await openSession(client, f, sha256);
    if (opened === "unsupported" || opened === "stored") {
      if (opened === "stored") opts.onRead(f.size);
      return opened === "stored" ? { resumedParts: 0 } : "unsupported";
    }
    session = { ...opened, parts: [] };
    if (statePath && opts.stateDir) {
      await ensurePrivateDir(opts.stateDir);
      const state: SessionState = { base: client.base, id: session.id, size: f.size };
      await writeFile(statePath, JSON.stringify(state), { mode: PRIVATE_FILE_MODE });
    }
  }
  const held = new Set(session.parts.map((p) => p.partNumber));
  for (const p of session.parts) opts.onRead(p.size);
  const file = await open(f.file, "r");
  try {
    for (let n = 1; n <= session.partCount; n++) {
      if (held.has(n)) continue;
      await sendPart(client, session, file, n, opts);
    }
  } finally {
    await file.close();
  }
  try {
    const info = await client.json<{ sha256: string }>(
      "POST",
      `/v1/uploads/${session.id}/complete`,
      undefined,
      `model push ${f.path}`,
    );
    if (info.sha256 !== sha256) {
      throw new StorageError("PRECONDITION_FAILED", `${f.file}: the service stored sha256 ${info.sha256}.`);
    }
  } catch (err) {
    // A refused completion has aborted the session (the file changed, or is not what it says): the
    // next run starts afresh. A session still open (a part missing, a cut connection) is resumed.
    if (statePath) {
      const after = await client
        .json<SessionJson>("GET", `/v1/uploads/${session.id}`, undefined, "model push")
        .catch(() => undefined);
      if (after && after.state !== "open") await forget(statePath);
    }
    throw err;
  }
  if (statePath) await forget(statePath);
  return { resumedParts: held.size };
}

/** The open session a state file names, with the parts its store holds; undefined to start anew. */
async function resumable(
  client: ServiceClient,
  statePath: string,
  size: number,
  sha256: string,
): Promise<StatusJson | undefined> {
  let state: SessionState;
  try {
    state = JSON.parse(await readFile(statePath, "utf8")) as SessionState;
  } catch {
    return undefined;
  }
  if (state.base !== client.base || state.size !== size || !/^[0-9a-f-]{36}$/.test(state.id))
    return undefined;
  try {
    const status = await client.json<StatusJson>("GET", `/v1/uploads/${state.id}`, undefined, "model push");
    const usable = status.state === "open" && Date.parse(status.expiresAt) > Date.now();
    if (usable && status.sha256 === sha256 && status.size === size) return status;
  } catch (err) {
    // Gone (swept, or another key's): start anew. The service being unreachable is worth saying.
    if (!(isStorageError(err) && (err.code === "NOT_FOUND" || err.code === "PERMISSION_DENIED"))) throw err;
  }
  await forget(statePath);
  return undefined;
}

/** A new session for the file's blob, "stored" when the service holds it already, or "unsupported". */
async function openSession(
  client: ServiceClient,
  f: LocalModelFile,
  sha256: string,
): Promise<SessionJson | "stored" | "unsupported"> {
  let res: Response;
  try {
    res = await client.send(
      "/v1/models/blobs/uploads",
      {
        method: "POST",
        headers: { "content-type": "application/json", accept: "application/json" },
        body: JSON.stringify({ sha256, size: f.size, path: f.path }),
      },
      `model push ${f.path}`,
    );
  } catch (err) {
    if (isStorageError(err) && err.code === "UNSUPPORTED_OPERATION") return "unsupported";
    throw err;
  }
  if (res.status === 200) {
    await res.body?.cancel();
    return "stored";
  }
  return (await res.json()) as SessionJson;
}

/** Reads part `n`, has its URL signed with its sha256, and PUTs it straight to the object store. */
async function sendPart(
  client: ServiceClient,
  session: SessionJson,
  file: Awaited<ReturnType<typeof open>>,
  n: number,
  opts: SessionPush,
): Promise<void> {
  const offset = (n - 1) * session.partSize;
  const length = Math.min(session.partSize, session.size - offset);
  const bytes = Buffer.alloc(length);
  const { bytesRead } = await file.read(bytes, 0, length, offset);
  if (bytesRead !== length) {
    throw new StorageError("PRECONDITION_FAILED", "The file got shorter while it was pushed.", {
      field: "path",
    });
  }
  const sha256 = createHash("sha256").update(bytes).digest("hex");
  const { parts } = await client.json<{ parts: PartUrlJson[] }>(
    "POST",
    `/v1/uploads/${session.id}/parts`,
    { parts: [{ partNumber: n, sha256 }] },
    "model push",
  );
  const url = parts[0];
  if (!url) throw new StorageError("INTERNAL", "The service signed no URL for the part.");
  let res: Response;
  try {
    res = await fetch(url.url, {
      method: url.method,
      headers: url.headers,
      body: bytes,
      signal: opts.signal,
    });
  } catch (err) {
    if (opts.signal.aborted) throw err;
    throw new StorageError(
      "UNAVAILABLE",
      `Part ${n} could not be sent to the object store: ${(err as Error).message}. Run the push again to resume.`,
      {},
      { cause: err },
    );
  }
  if (!res.ok) {
    const text = (await res.text()).slice(0, 300);
    throw new StorageError(
      "UNAVAILABLE",
      `The object store refused part ${n} (HTTP ${res.status}): ${text} Run the push again to resume.`,
    );
  }
  await res.body?.cancel();
  opts.onRead(length);
}

const forget = (statePath: string) => rm(statePath, { force: true });
