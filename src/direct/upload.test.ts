import { createHash, randomBytes } from "node:crypto";
import { mkdtemp, rm, truncate, writeFile } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type SessionCalls, uploadDirect } from "./upload.ts";

const MiB = 1024 * 1024;
const sha256 = (data: Buffer) => createHash("sha256").update(data).digest("hex");

/**
 * uploadDirect against a stand-in for the store's presigned part URLs (a plain HTTP server that
 * records each part's bytes; unit test only: test/cli-direct.test.ts and the npm package's suite
 * run the real thing against MinIO) and session calls that hand out its URLs.
 */
describe("uploadDirect", () => {
  let server: Server;
  let base: string;
  let dir: string;
  const received = new Map<number, Buffer>();

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "direct-upload-"));
    server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => {
        // A little later than the body, so parts overlap and free buffers are taken by other lanes.
        setTimeout(() => {
          received.set(Number(new URL(req.url ?? "/", base).searchParams.get("part")), Buffer.concat(chunks));
          res.writeHead(200, { etag: '"x"' }).end();
        }, 5);
      });
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
    await rm(dir, { recursive: true, force: true });
  });

  const fail = (code: string, message: string, details?: Record<string, unknown>) =>
    Object.assign(new Error(message), { code, details });

  function calls(onCreate?: () => Promise<void>) {
    const log: string[] = [];
    const session: SessionCalls<string> = {
      async create(req) {
        log.push(`create ${req.size} ${req.partSize}`);
        await onCreate?.();
        return { id: "s1", partCount: Math.max(1, Math.ceil(req.size / req.partSize)) };
      },
      async partUrls(_id, parts) {
        return parts.map((p) => ({
          partNumber: p.partNumber,
          url: `${base}/?part=${p.partNumber}`,
          headers: {},
        }));
      },
      async complete() {
        log.push("complete");
        return "done";
      },
      async abort() {
        log.push("abort");
      },
    };
    return { session, log };
  }

  it("sends every part's own bytes, reusing a few part buffers across many parts", async () => {
    received.clear();
    const data = randomBytes(5 * MiB * 9 + 12_345);
    const path = join(dir, "nine.bin");
    await writeFile(path, data);
    const { session, log } = calls();
    expect(await uploadDirect(path, session, { partSize: 5 * MiB, concurrency: 3, fail })).toBe("done");
    expect([...received.keys()].sort((a, b) => a - b)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    for (const [n, bytes] of received) {
      expect(sha256(bytes)).toBe(
        sha256(data.subarray((n - 1) * 5 * MiB, Math.min(n * 5 * MiB, data.length))),
      );
    }
    expect(log).toEqual([`create ${data.length} ${5 * MiB}`, "complete"]);
  });

  it("refuses a file that shrank after it was hashed, and aborts the session without completing it", async () => {
    received.clear();
    const path = join(dir, "shrinks.bin");
    await writeFile(path, randomBytes(3 * 5 * MiB));
    const { session, log } = calls(() => truncate(path, 2 * 5 * MiB + 100));
    const err = await uploadDirect(path, session, { partSize: 5 * MiB, fail }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: "PRECONDITION_FAILED", details: { field: "path", partNumber: 3 } });
    expect((err as Error).message).toMatch(/changed during the upload/);
    expect(received.has(3)).toBe(false);
    expect(log).toEqual([`create ${3 * 5 * MiB} ${5 * MiB}`, "abort"]);
  });
});
