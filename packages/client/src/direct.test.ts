import { createHash, randomBytes } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { directFail, fallsBack, transferPlan } from "./direct.ts";
import {
  InvalidArgumentError,
  NotFoundError,
  PreconditionFailedError,
  UnsupportedOperationError,
} from "./errors.ts";
import { hashParts, MAX_PARTS, MIN_PART_SIZE, partRange, planParts } from "./generated/direct/parts.ts";
import { type SessionCalls, StoreUnreachable, uploadDirect } from "./generated/direct/upload.ts";

const MiB = 1024 ** 2;
const sha = (data: Uint8Array) => createHash("sha256").update(data).digest("hex");

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "lss-direct-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("part planning", () => {
  it("uses the preferred size, raised to S3's 5 MiB minimum", () => {
    expect(planParts(100 * MiB)).toEqual({ size: 100 * MiB, partSize: 16 * MiB, partCount: 7 });
    expect(planParts(12 * MiB, MiB)).toEqual({ size: 12 * MiB, partSize: MIN_PART_SIZE, partCount: 3 });
    expect(planParts(0)).toEqual({ size: 0, partSize: 16 * MiB, partCount: 1 });
  });

  it("grows the part size in whole MiB until the object fits in 10,000 parts", () => {
    const size = 500 * 1024 * MiB; // 500 GiB: 16 MiB parts would be 32,000
    const plan = planParts(size);
    expect(plan.partSize % MiB).toBe(0);
    expect(plan.partCount).toBeLessThanOrEqual(MAX_PARTS);
    expect(planParts(size, plan.partSize - MiB).partSize).toBe(plan.partSize);
    expect(Math.ceil(size / (plan.partSize - MiB))).toBeGreaterThan(MAX_PARTS);
  });

  it("gives every part the part size but the last, which holds the remainder", () => {
    const plan = { size: 2500, partSize: 1000, partCount: 3 };
    expect([1, 2, 3].map((n) => partRange(n, plan))).toEqual([
      { start: 0, size: 1000 },
      { start: 1000, size: 1000 },
      { start: 2000, size: 500 },
    ]);
  });
});

describe("hashing in one pass", () => {
  it("gives each part's sha256 and the whole file's, split at part boundaries inside read chunks", async () => {
    const data = randomBytes(2 * MiB + 12_345);
    const path = join(dir, "parts.bin");
    await writeFile(path, data);
    // A part size that is no multiple of the 1 MiB reads, so reads straddle part boundaries.
    const plan = { size: data.length, partSize: 700_001, partCount: Math.ceil(data.length / 700_001) };
    const hashed = await hashParts(path, plan);
    expect(hashed.sha256).toBe(sha(data));
    expect(hashed.parts).toEqual(
      Array.from({ length: plan.partCount }, (_, i) => {
        const start = i * plan.partSize;
        const bytes = data.subarray(start, start + plan.partSize);
        return { partNumber: i + 1, start, size: bytes.length, sha256: sha(bytes) };
      }),
    );
  });

  it("refuses a file that no longer has the size it was planned for", async () => {
    const path = join(dir, "changed.bin");
    await writeFile(path, randomBytes(1000));
    await expect(hashParts(path, { size: 999, partSize: 500, partCount: 2 })).rejects.toThrow(
      /changed while it was read: 1000 bytes, not the 999/,
    );
  });
});

/** A stand-in object store: checks each PUT against the sha256 its URL carries, as S3 does. */
interface Store {
  url: string;
  received: Map<number, Buffer>;
  attempts: Map<number, number>;
  maxInFlight: number;
  /** Decides the answer to one attempt at a part (default: 200 when the sha256 matches). */
  answer?: (part: number, attempt: number) => { status: number; body?: string } | undefined;
  close(): Promise<void>;
}

async function startStore(): Promise<Store> {
  let inFlight = 0;
  const store: Partial<Store> = { received: new Map(), attempts: new Map(), maxInFlight: 0 };
  const server: Server = createServer(async (req: IncomingMessage, res) => {
    inFlight++;
    store.maxInFlight = Math.max(store.maxInFlight ?? 0, inFlight);
    // A PUT the client gave up on (its upload failed elsewhere) ends here, unanswered.
    const chunks = await req.toArray().catch(() => undefined);
    if (!chunks) {
      inFlight--;
      return;
    }
    const body = Buffer.concat(chunks);
    const part = Number(new URL(req.url ?? "/", "http://x").searchParams.get("partNumber"));
    const attempt = (store.attempts?.get(part) ?? 0) + 1;
    store.attempts?.set(part, attempt);
    const forced = store.answer?.(part, attempt);
    const expected = req.headers["x-amz-checksum-sha256"];
    const ok = expected === createHash("sha256").update(body).digest("base64");
    inFlight--;
    if (forced) {
      res.writeHead(forced.status).end(forced.body ?? "");
      return;
    }
    if (!ok) {
      res.writeHead(400).end("<Error><Code>XAmzContentChecksumMismatch</Code></Error>");
      return;
    }
    store.received?.set(part, body);
    res.writeHead(200, { etag: `"${part}"` }).end();
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  store.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  store.close = () => new Promise((resolve) => server.close(() => resolve()));
  return store as Store;
}

/** Session calls that record what was asked and sign "URLs" to `storeUrl`. */
function fakeSessions(storeUrl: string) {
  const log: string[] = [];
  const calls: SessionCalls<{ sha256: string; size: number }> & {
    created?: Record<string, number | string>;
  } = {
    create: async (req) => {
      log.push("create");
      calls.created = req;
      return { id: "s1", partCount: Math.max(1, Math.ceil(req.size / req.partSize)) };
    },
    partUrls: async (_id, parts) => {
      log.push(`urls ${parts.map((p) => p.partNumber).join(",")}`);
      return parts.map((p) => ({
        partNumber: p.partNumber,
        url: `${storeUrl}/object?partNumber=${p.partNumber}`,
        headers: { "x-amz-checksum-sha256": Buffer.from(p.sha256, "hex").toString("base64") },
      }));
    },
    complete: async () => {
      log.push("complete");
      return { sha256: String(calls.created?.sha256), size: Number(calls.created?.size) };
    },
    abort: async () => {
      log.push("abort");
    },
  };
  return { calls, log };
}

describe("uploadDirect", () => {
  let store: Store;
  let path: string;
  let data: Buffer;

  beforeAll(async () => {
    store = await startStore();
    data = randomBytes(3 * MIN_PART_SIZE + 4321); // 4 parts of 5 MiB, the last 4321 bytes
    path = join(dir, "upload.bin");
    await writeFile(path, data);
  });
  afterAll(async () => {
    await store?.close();
  });

  const reset = () => {
    store.received.clear();
    store.attempts.clear();
    store.maxInFlight = 0;
    delete store.answer;
  };

  it("sends part 1 alone, then the rest a few at a time, retries a 5xx, and completes", async () => {
    reset();
    store.answer = (part, attempt) => (part === 3 && attempt === 1 ? { status: 503 } : undefined);
    const { calls, log } = fakeSessions(store.url);
    const progress: number[] = [];
    const result = await uploadDirect(path, calls, {
      partSize: MIN_PART_SIZE,
      concurrency: 2,
      onProgress: (stored, total) => {
        expect(total).toBe(data.length);
        progress.push(stored);
      },
      fail: directFail,
    });
    expect(result).toEqual({ sha256: sha(data), size: data.length });
    expect(calls.created).toEqual({ size: data.length, sha256: sha(data), partSize: MIN_PART_SIZE });
    expect(log).toEqual(["create", "urls 1", "urls 2,3,4", "complete"]);
    // Compared by digest: a deep equality of 15 MiB Buffers takes minutes.
    expect(sha(Buffer.concat([1, 2, 3, 4].map((n) => store.received.get(n) as Buffer)))).toBe(sha(data));
    expect(store.attempts.get(3)).toBe(2);
    expect(store.maxInFlight).toBeLessThanOrEqual(2);
    expect(progress.at(-1)).toBe(data.length);
    expect(progress).toEqual([...progress].sort((a, b) => a - b));
  });

  it("reports a store it cannot reach as StoreUnreachable, after aborting the session", async () => {
    const closed = await startStore();
    await closed.close(); // its port now refuses connections
    const { calls, log } = fakeSessions(closed.url);
    const err = await uploadDirect(path, calls, { partSize: MIN_PART_SIZE, fail: directFail }).catch(
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(StoreUnreachable);
    expect(fallsBack(err)).toBe(true);
    expect(log).toEqual(["create", "urls 1", "abort"]);
  });

  it("refuses a part the store says no longer matches its sha256, and aborts", async () => {
    reset();
    store.answer = (part) =>
      part === 2
        ? { status: 400, body: "<Error><Code>XAmzContentChecksumMismatch</Code></Error>" }
        : undefined;
    const { calls, log } = fakeSessions(store.url);
    const err = await uploadDirect(path, calls, { partSize: MIN_PART_SIZE, fail: directFail }).catch(
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(PreconditionFailedError);
    expect((err as PreconditionFailedError).details).toMatchObject({ partNumber: 2, status: 400 });
    expect(fallsBack(err)).toBe(false);
    expect(log.at(-1)).toBe("abort");
    expect(log).not.toContain("complete");
  });

  it("refuses an announced sha256 the file does not have before opening a session", async () => {
    const { calls, log } = fakeSessions(store.url);
    const err = await uploadDirect(path, calls, { sha256: "0".repeat(64), fail: directFail }).catch(
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(PreconditionFailedError);
    expect((err as PreconditionFailedError).details).toMatchObject({ sha256: sha(data) });
    expect(log).toEqual([]);
  });
});

describe("transferPlan and fallsBack", () => {
  const auto = { transfer: "auto" as const, threshold: 64 * MiB };

  it("goes direct from the threshold in auto, never for SSE-C or ranges, always when forced", () => {
    expect(transferPlan(auto, 64 * MiB - 1, {})).toBe("proxy");
    expect(transferPlan(auto, 64 * MiB, {})).toBe("auto");
    expect(transferPlan(auto, 64 * MiB, { sseCustomerKey: randomBytes(32) })).toBe("proxy");
    expect(transferPlan(auto, 64 * MiB, { range: { start: 0 } })).toBe("proxy");
    expect(transferPlan({ ...auto, transfer: "direct" }, 1, {})).toBe("direct");
    expect(transferPlan({ ...auto, transfer: "proxy" }, 1e12, {})).toBe("proxy");
    expect(() => transferPlan({ ...auto, transfer: "direct" }, 1, { range: { start: 1 } })).toThrow(
      InvalidArgumentError,
    );
  });

  it("falls back only when there is no direct path from here", () => {
    const grpc = { grpcCode: 12 };
    expect(fallsBack(new UnsupportedOperationError("UNSUPPORTED_OPERATION", "local", grpc))).toBe(true);
    expect(fallsBack(new StoreUnreachable("refused"))).toBe(true);
    expect(fallsBack(new NotFoundError("NOT_FOUND", "gone", { grpcCode: 5 }))).toBe(false);
    expect(fallsBack(new Error("other"))).toBe(false);
  });
});
