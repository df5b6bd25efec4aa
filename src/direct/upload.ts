import { type FileHandle, open, stat } from "node:fs/promises";
import { setTimeout as sleep } from "node:timers/promises";
import { mapBounded } from "../bounded.ts";
import { type HashedPart, hashParts, type PartPlan, planParts } from "./parts.ts";

/**
 * A file uploaded straight to the object store through an upload session: hashed in one pass,
 * the session opened with the whole sha256 and the client's part size, part URLs asked for in
 * batches (each with its part's sha256 signed in), the parts PUT with fetch a few at a time, then
 * the session completed (the service verifies and indexes the object). Transport-neutral: the
 * caller passes the session calls (gRPC for the npm client, HTTP for the CLI) and its error type.
 * A leaf (node: built-ins and ../bounded.ts), copied into the npm client by gen-client-shared.ts.
 */

/** Codes of the errors this raises through `fail` (a subset of the service's stable codes). */
export type DirectErrorCode = "PRECONDITION_FAILED" | "UNAVAILABLE" | "INTERNAL" | "INVALID_ARGUMENT";

export interface SessionCalls<T> {
  create(req: { size: number; sha256: string; partSize: number }): Promise<{ id: string; partCount: number }>;
  partUrls(
    id: string,
    parts: { partNumber: number; sha256: string }[],
  ): Promise<{ partNumber: number; url: string; headers: Record<string, string> }[]>;
  complete(id: string): Promise<T>;
  abort(id: string): Promise<void>;
}

export interface DirectUploadOptions {
  /** Parts in flight at once (default 4). */
  concurrency?: number | undefined;
  /** Bytes per part (default 16 MiB, grown to fit 10,000 parts). */
  partSize?: number | undefined;
  /** Attempts per part on a connection error or a 5xx from the store (default 3). */
  attempts?: number | undefined;
  /** An announced sha256 the file must have: another is refused before anything is sent. */
  sha256?: string | undefined;
  signal?: AbortSignal | undefined;
  /** Bytes the store has accepted so far, and the file's size. */
  onProgress?: ((stored: number, total: number) => void) | undefined;
  /** Builds the caller's error type. */
  fail: (code: DirectErrorCode, message: string, details?: Record<string, unknown>) => Error;
}

/**
 * The store could not be reached at all (a connection error on the first part, before any byte
 * landed): the session was aborted, nothing was stored, and the caller may send the file through
 * the service instead (the store's address is one only the service can reach, say).
 */
export class StoreUnreachable extends Error {
  override readonly name = "StoreUnreachable";
}

/** URLs asked for per call: a 10,000-part file takes a few calls, and URLs do not sit long unused. */
const URL_BATCH = 64;

export async function uploadDirect<T>(
  path: string,
  calls: SessionCalls<T>,
  options: DirectUploadOptions,
): Promise<T> {
  const { fail, signal } = options;
  const plan = planParts((await stat(path)).size, options.partSize);
  let hashed: { sha256: string; parts: HashedPart[] };
  try {
    hashed = await hashParts(path, plan, { signal });
  } catch (err) {
    if (signal?.aborted) throw err;
    throw fail("PRECONDITION_FAILED", (err as Error).message, { field: "path" });
  }
  if (options.sha256 !== undefined && options.sha256.toLowerCase() !== hashed.sha256) {
    throw fail(
      "PRECONDITION_FAILED",
      `The file's sha256 is ${hashed.sha256}, not the announced ${options.sha256}; nothing was stored.`,
      { field: "sha256", sha256: hashed.sha256 },
    );
  }
  const session = await calls.create({ size: plan.size, sha256: hashed.sha256, partSize: plan.partSize });
  let completed = false;
  let file: FileHandle | undefined;
  try {
    file = await open(path);
    if (session.partCount !== plan.partCount) {
      throw fail(
        "INTERNAL",
        `The service planned ${session.partCount} parts for a part size of ${plan.partSize}, not ${plan.partCount}.`,
      );
    }
    const put = new PartPutter(file, plan, options);
    const [first, ...rest] = hashed.parts as [HashedPart, ...HashedPart[]];
    // The first part alone: a store this client cannot reach shows here, before anything landed.
    await put.send(session.id, calls, [first], true);
    for (let i = 0; i < rest.length; i += URL_BATCH) {
      await put.send(session.id, calls, rest.slice(i, i + URL_BATCH), false);
    }
    const result = await calls.complete(session.id);
    completed = true;
    return result;
  } finally {
    await file?.close();
    // Best effort: an unfinished session would otherwise hold its parts until it expires.
    if (!completed) await calls.abort(session.id).catch(() => {});
  }
}

/** PUTs parts from one open file, a few at a time, each retried on failures worth retrying. */
class PartPutter {
  readonly #file: FileHandle;
  readonly #plan: PartPlan;
  readonly #options: DirectUploadOptions;
  /** Part buffers between uses: one per lane, each part read into a free one (no zero-fill, no churn). */
  readonly #free: Buffer[] = [];
  #stored = 0;

  constructor(file: FileHandle, plan: PartPlan, options: DirectUploadOptions) {
    this.#file = file;
    this.#plan = plan;
    this.#options = options;
  }

  async send<T>(id: string, calls: SessionCalls<T>, parts: HashedPart[], probe: boolean): Promise<void> {
    const urls = await calls.partUrls(
      id,
      parts.map((p) => ({ partNumber: p.partNumber, sha256: p.sha256 })),
    );
    const byNumber = new Map(urls.map((u) => [u.partNumber, u]));
    await mapBounded(
      parts,
      this.#options.concurrency ?? 4,
      async (part, _i, signal) => {
        const url = byNumber.get(part.partNumber);
        if (!url)
          throw this.#options.fail("INTERNAL", `The service sent no URL for part ${part.partNumber}.`);
        await this.#put(part, url, probe, signal);
        this.#stored += part.size;
        this.#options.onProgress?.(this.#stored, this.#plan.size);
      },
      { signal: this.#options.signal },
    );
  }

  async #put(
    part: HashedPart,
    target: { url: string; headers: Record<string, string> },
    probe: boolean,
    signal: AbortSignal,
  ): Promise<void> {
    const { fail } = this.#options;
    // One part in memory at a time per lane: a retry sends the same bytes without reading again.
    const buffer = this.#free.pop() ?? Buffer.allocUnsafe(this.#plan.partSize);
    try {
      const body = buffer.subarray(0, part.size);
      const missing = await readFully(this.#file, body, part.start);
      if (missing > 0) {
        throw fail(
          "PRECONDITION_FAILED",
          `The file ended ${missing} bytes before the end of part ${part.partNumber}: it changed during the upload. Nothing was stored.`,
          { field: "path", partNumber: part.partNumber },
        );
      }
      await this.#send(part, body, target, probe, signal);
    } finally {
      // fetch has settled (answered or failed): it holds no view of the buffer any more.
      this.#free.push(buffer);
    }
  }

  async #send(
    part: HashedPart,
    body: Buffer,
    target: { url: string; headers: Record<string, string> },
    probe: boolean,
    signal: AbortSignal,
  ): Promise<void> {
    const { fail } = this.#options;
    const attempts = Math.max(1, this.#options.attempts ?? 3);
    for (let attempt = 1; ; attempt++) {
      let res: Response;
      try {
        res = await fetch(target.url, { method: "PUT", headers: target.headers, body, signal });
      } catch (err) {
        if (signal.aborted) throw signal.reason ?? err;
        if (probe && attempt === 1) {
          throw new StoreUnreachable(`The object store is not reachable: ${causeOf(err)}`, { cause: err });
        }
        if (attempt < attempts) {
          await sleep(backoff(attempt), undefined, { signal });
          continue;
        }
        throw fail(
          "UNAVAILABLE",
          `Part ${part.partNumber} could not be sent to the object store: ${causeOf(err)}`,
          { partNumber: part.partNumber },
        );
      }
      if (res.ok) {
        await res.body?.cancel().catch(() => {});
        return;
      }
      const text = await res.text().catch(() => "");
      const code = /<Code>([^<]+)<\/Code>/.exec(text)?.[1] ?? "";
      const details = {
        partNumber: part.partNumber,
        status: res.status,
        ...(code ? { storeCode: code } : {}),
      };
      if ((res.status >= 500 || res.status === 408 || res.status === 429) && attempt < attempts) {
        await sleep(backoff(attempt), undefined, { signal });
        continue;
      }
      if (res.status === 400 && /Digest|Checksum/i.test(code)) {
        throw fail(
          "PRECONDITION_FAILED",
          `The object store refused part ${part.partNumber}: its bytes no longer have the sha256 read earlier (the file changed during the upload). Nothing was stored.`,
          details,
        );
      }
      throw fail(
        res.status >= 500 ? "UNAVAILABLE" : "INTERNAL",
        `The object store answered ${res.status}${code ? ` ${code}` : ""} to part ${part.partNumber}.`,
        details,
      );
    }
  }
}

/** Fills `into` from `position` on (a read may return fewer bytes than asked); the bytes missing at end of file. */
async function readFully(file: FileHandle, into: Buffer, position: number): Promise<number> {
  for (let at = 0; at < into.length; ) {
    const { bytesRead } = await file.read(into, at, into.length - at, position + at);
    if (bytesRead === 0) return into.length - at;
    at += bytesRead;
  }
  return 0;
}

const backoff = (attempt: number) => Math.min(2000, 100 * 2 ** attempt) * (0.5 + Math.random() / 2);

/** fetch() reports a refused connection as "fetch failed" with the reason in `cause`. */
const causeOf = (err: unknown): string => {
  const cause = (err as { cause?: { code?: string; message?: string } }).cause;
  return cause?.code ?? cause?.message ?? (err as Error).message ?? String(err);
};
