import { execFile } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { liveHashJobs, StreamingSha256 } from "./sha256.ts";

const MiB = 1024 * 1024;
const reference = (data: Buffer) => createHash("sha256").update(data).digest("hex");

async function hashInChunks(
  data: Buffer,
  chunkSize: (i: number) => number,
  thread: boolean,
): Promise<string> {
  const hash = new StreamingSha256({ thread });
  let offset = 0;
  for (let i = 0; offset < data.length; i++) {
    const n = Math.max(1, chunkSize(i));
    await hash.update(data.subarray(offset, offset + n));
    offset += n;
  }
  return hash.digest();
}

describe.each([
  { mode: "worker thread", thread: true },
  { mode: "inline", thread: false },
])("StreamingSha256 ($mode)", ({ thread }) => {
  it.each([0, 1, MiB - 1, MiB, MiB + 1, 3 * MiB + 17])("matches node:crypto for %i bytes", async (size) => {
    const data = randomBytes(size);
    expect(await hashInChunks(data, (i) => [65536, 1, 4096, 777_777][i % 4] ?? 1, thread)).toBe(
      reference(data),
    );
  });

  it("keeps concurrent hashes apart and applies backpressure on large inputs", async () => {
    const a = randomBytes(40 * MiB);
    const b = randomBytes(5 * MiB);
    const [ha, hb] = await Promise.all([
      hashInChunks(a, () => 8 * MiB, thread),
      hashInChunks(b, () => 64 * 1024, thread),
    ]);
    expect(ha).toBe(reference(a));
    expect(hb).toBe(reference(b));
  });

  it("does not care that callers reuse their chunk buffers after update", async () => {
    const hash = new StreamingSha256({ thread });
    const chunk = Buffer.alloc(700 * 1024);
    const expected = createHash("sha256");
    for (let i = 0; i < 10; i++) {
      chunk.fill(i);
      expected.update(chunk);
      await hash.update(chunk);
    }
    expect(await hash.digest()).toBe(expected.digest("hex"));
  });

  it("never keeps the process alive once hashing is done", async () => {
    const module = fileURLToPath(new URL("./sha256.ts", import.meta.url));
    const script = `const { StreamingSha256 } = await import(${JSON.stringify(module)});
      const h = new StreamingSha256({ thread: ${thread} }); for (let i = 0; i < 4; i++) await h.update(Buffer.alloc(1 << 20, i));
      console.log(await h.digest());`;
    const { stdout } = await promisify(execFile)(process.execPath, ["--input-type=module", "-e", script], {
      timeout: 20_000,
    });
    expect(stdout.trim()).toMatch(/^[0-9a-f]{64}$/);
  });
});

describe("StreamingSha256 on the worker thread: release", () => {
  const noJobs = { loop: 0, worker: 0 };

  it("a digest gives the job back on both sides", async () => {
    const hash = new StreamingSha256({ thread: true });
    await hash.update(Buffer.alloc(3 * MiB, 1));
    expect(await liveHashJobs()).toEqual({ loop: 1, worker: 1 });
    expect(await hash.digest()).toBe(reference(Buffer.alloc(3 * MiB, 1)));
    expect(await liveHashJobs()).toEqual(noJobs);
  });

  it("dispose() gives back the job of a hash that will never be digested", async () => {
    const hash = new StreamingSha256({ thread: true });
    await hash.update(Buffer.alloc(3 * MiB, 2));
    expect(await liveHashJobs()).toEqual({ loop: 1, worker: 1 });
    hash.dispose();
    hash.dispose(); // idempotent
    expect(await liveHashJobs()).toEqual(noJobs);
    expect(() => hash.update(Buffer.alloc(1))).toThrow(/after dispose/);
    expect(() => hash.digest()).toThrow(/after dispose/);
  });

  it("dispose() rejects a digest still waiting for the worker, and a caller waiting on backpressure", async () => {
    const waiting = new StreamingSha256({ thread: true });
    const wait = waiting.update(Buffer.alloc(20 * MiB, 3));
    expect(wait).toBeInstanceOf(Promise);
    waiting.dispose();
    await expect(wait).rejects.toThrow(/disposed/);

    const digesting = new StreamingSha256({ thread: true });
    await digesting.update(Buffer.alloc(2 * MiB, 4));
    const digest = digesting.digest();
    digesting.dispose();
    await expect(digest).rejects.toThrow(/disposed/);
    expect(await liveHashJobs()).toEqual(noJobs);
  });

  it("dispose() after a digest changes nothing", async () => {
    const hash = new StreamingSha256({ thread: true });
    await hash.update(Buffer.alloc(2 * MiB, 5));
    const hex = await hash.digest();
    hash.dispose();
    expect(await hash.digest()).toBe(hex);
    expect(await liveHashJobs()).toEqual(noJobs);
  });
});
