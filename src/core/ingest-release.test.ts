import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { once } from "node:events";
import { Writable } from "node:stream";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { IngestGuard, VerifyingStream } from "./ingest.ts";
import { liveHashJobs } from "./sha256.ts";

/**
 * A transfer that fails or is abandoned never asks for its digest; the transforms that own a hash
 * must still give its worker job back, or the worker stays referenced and the process cannot exit.
 * Worker hashing is forced here, whatever the machine's core count.
 */

const MiB = 1024 * 1024;
const THREAD = { thread: true };
const noJobs = { loop: 0, worker: 0 };

const sink = () =>
  new Writable({
    write(_chunk, _enc, cb) {
      cb();
    },
  });

/** Writes `n` MiB into `stream` (each write waits for its callback) and returns once they passed. */
async function feed(stream: Writable, n: number, fill = 7): Promise<void> {
  for (let i = 0; i < n; i++) {
    await new Promise<void>((resolve, reject) =>
      stream.write(Buffer.alloc(MiB, fill), (err) => (err ? reject(err) : resolve())),
    );
  }
}

describe("hash release when a transfer does not finish (worker hashing)", () => {
  it("IngestGuard destroyed mid-way (abandoned upload) releases its job", async () => {
    const guard = new IngestGuard({ maxBytes: 100 * MiB }, undefined, THREAD);
    guard.pipe(sink());
    await feed(guard, 3);
    expect(await liveHashJobs()).toEqual({ loop: 1, worker: 1 });
    guard.destroy();
    await once(guard, "close");
    expect(await liveHashJobs()).toEqual(noJobs);
  });

  it("IngestGuard failing on the size limit releases its job", async () => {
    const guard = new IngestGuard({ maxBytes: 3 * MiB }, undefined, THREAD);
    guard.pipe(sink());
    const failed = once(guard, "error").then(([err]) => err as unknown);
    const closed = new Promise((resolve) => guard.once("close", resolve));
    await feed(guard, 3);
    expect(await liveHashJobs()).toEqual({ loop: 1, worker: 1 });
    guard.write(Buffer.alloc(1));
    expect(await failed).toMatchObject({ code: "TOO_LARGE" });
    await closed;
    expect(await liveHashJobs()).toEqual(noJobs);
  });

  it("VerifyingStream destroyed mid-way (abandoned download) releases its job", async () => {
    const sha256 = createHash("sha256")
      .update(Buffer.alloc(10 * MiB, 7))
      .digest("hex");
    const verifier = new VerifyingStream({ sha256, size: 10 * MiB, bucket: "b", key: "k" }, THREAD);
    verifier.pipe(sink());
    await feed(verifier, 3);
    expect(await liveHashJobs()).toEqual({ loop: 1, worker: 1 });
    verifier.destroy();
    await once(verifier, "close");
    expect(await liveHashJobs()).toEqual(noJobs);
  });

  it("a completed upload leaves no job behind", async () => {
    const guard = new IngestGuard({ maxBytes: 100 * MiB }, undefined, THREAD);
    guard.pipe(sink());
    await feed(guard, 3);
    guard.end();
    await once(guard, "finish");
    expect(guard.sha256).toBe(
      createHash("sha256")
        .update(Buffer.alloc(3 * MiB, 7))
        .digest("hex"),
    );
    expect(await liveHashJobs()).toEqual(noJobs);
  });

  it("a process whose transfer was abandoned exits by itself", async () => {
    const ingest = fileURLToPath(new URL("./ingest.ts", import.meta.url));
    const sha256 = fileURLToPath(new URL("./sha256.ts", import.meta.url));
    // Destroyed while the worker holds the job: the process must end once the loop is empty.
    const script = `
      const { IngestGuard } = await import(${JSON.stringify(ingest)});
      const { liveHashJobs } = await import(${JSON.stringify(sha256)});
      const guard = new IngestGuard({ maxBytes: 100 * 2 ** 20 }, undefined, { thread: true });
      guard.resume();
      for (let i = 0; i < 3; i++) await new Promise((ok) => guard.write(Buffer.alloc(2 ** 20, i), ok));
      console.log(JSON.stringify(await liveHashJobs()));
      guard.destroy();`;
    // The kill timer is only a guard against hanging the suite; the assertion is the clean exit.
    const child = spawn(process.execPath, ["--input-type=module", "-e", script], {
      stdio: ["ignore", "pipe", "inherit"],
      timeout: 20_000,
    });
    let stdout = "";
    child.stdout.on("data", (chunk: Buffer) => (stdout += chunk));
    const [code, signal] = (await once(child, "exit")) as [number | null, NodeJS.Signals | null];
    expect(JSON.parse(stdout)).toEqual({ loop: 1, worker: 1 });
    expect({ code, signal }).toEqual({ code: 0, signal: null });
  });
});
