import { createHash } from "node:crypto";
import { availableParallelism } from "node:os";
import { Readable, Writable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { describe, expect, it } from "vitest";
import { IngestGuard, VerifyingStream } from "./ingest.ts";
import { peek } from "./peek.ts";
import { liveHashJobs } from "./sha256.ts";

const sink = () =>
  new Writable({
    write(_chunk, _enc, cb) {
      cb();
    },
  });
const chunks = (n: number, size: number) =>
  Readable.from(Array.from({ length: n }, (_, i) => Buffer.alloc(size, i)));
const sha = (b: Buffer) => createHash("sha256").update(b).digest("hex");

describe("IngestGuard", () => {
  it("hashes and counts what passes", async () => {
    const guard = new IngestGuard({ maxBytes: 100 });
    await pipeline(Readable.from([Buffer.from("hello "), Buffer.from("world")]), guard, sink());
    expect(guard.bytes).toBe(11);
    expect(guard.sha256).toBe(sha(Buffer.from("hello world")));
  });

  it("fails as soon as the limit is crossed, without reading the rest", async () => {
    let pulled = 0;
    const source = new Readable({
      read() {
        pulled++;
        this.push(pulled > 1000 ? null : Buffer.alloc(1024));
      },
    });
    const guard = new IngestGuard({ maxBytes: 10 * 1024 });
    await expect(pipeline(source, guard, sink())).rejects.toMatchObject({ code: "TOO_LARGE" });
    expect(pulled).toBeLessThan(100);
  });

  it("refuses a wrong announced size or checksum at the end", async () => {
    await expect(
      pipeline(chunks(2, 10), new IngestGuard({ maxBytes: 100, expectedSize: 30 }), sink()),
    ).rejects.toMatchObject({ code: "PRECONDITION_FAILED" });
    await expect(
      pipeline(chunks(2, 10), new IngestGuard({ maxBytes: 100, expectedSha256: "0".repeat(64) }), sink()),
    ).rejects.toMatchObject({ code: "PRECONDITION_FAILED" });
  });
});

describe("VerifyingStream", () => {
  it("passes matching content and fails corrupted content with DATA_CORRUPTED", async () => {
    const data = Buffer.from("stored bytes");
    const ok = new VerifyingStream({ sha256: sha(data), size: data.length, bucket: "b", key: "k" });
    await pipeline(Readable.from([data]), ok, sink());
    const bad = new VerifyingStream({ sha256: sha(data), size: data.length, bucket: "b", key: "k" });
    await expect(pipeline(Readable.from([Buffer.from("stored bytez")]), bad, sink())).rejects.toMatchObject({
      code: "DATA_CORRUPTED",
    });
  });

  const collect = () => {
    const received: Buffer[] = [];
    const writable = new Writable({
      write(chunk: Buffer, _enc, cb) {
        received.push(chunk);
        cb();
      },
    });
    return { received, writable };
  };

  it("never hands a reader every byte of a corrupted object", async () => {
    const good = Buffer.concat([Buffer.alloc(1000, 1), Buffer.alloc(1000, 2), Buffer.alloc(10, 3)]);
    const bad = Buffer.from(good);
    bad[5] = 9; // same size, other bytes: only the digest can tell
    for (const pieces of [[bad], [bad.subarray(0, 1000), bad.subarray(1000, 2000), bad.subarray(2000)]]) {
      const { received, writable } = collect();
      const verifier = new VerifyingStream({ sha256: sha(good), size: good.length, bucket: "b", key: "k" });
      await expect(pipeline(Readable.from(pieces), verifier, writable)).rejects.toMatchObject({
        code: "DATA_CORRUPTED",
      });
      const got = Buffer.concat(received).length;
      expect(got).toBeLessThan(good.length);
      // Only the last chunk is held back: the rest streamed through before the check.
      expect(got).toBe(good.length - (pieces.at(-1)?.length ?? 0));
    }
  });

  it("hands on every byte, in order, once the digest matches", async () => {
    const data = Buffer.concat([Buffer.alloc(3000, 7), Buffer.from("tail")]);
    const { received, writable } = collect();
    const verifier = new VerifyingStream({ sha256: sha(data), size: data.length, bucket: "b", key: "k" });
    await pipeline(
      Readable.from([data.subarray(0, 1000), data.subarray(1000, 3000), data.subarray(3000)]),
      verifier,
      writable,
    );
    expect(Buffer.concat(received)).toEqual(data);
    const empty = collect();
    const none = new VerifyingStream({ sha256: sha(Buffer.alloc(0)), size: 0, bucket: "b", key: "k" });
    await pipeline(Readable.from([]), none, empty.writable);
    expect(empty.received).toEqual([]);
  });

  it("verifies large downloads on the hashing thread by default (two cores or more), small ones inline", async () => {
    const MiB = 1024 * 1024;
    const onThread = availableParallelism() >= 2;
    for (const { size, thread } of [
      { size: 16 * MiB, thread: onThread },
      { size: MiB, thread: false },
    ]) {
      const data = Buffer.alloc(size);
      for (let i = 0; i < size; i += 4096) data.writeUInt32BE(i, i);
      const bad = Buffer.from(data);
      bad.writeUInt8(bad.readUInt8(size - 100) ^ 1, size - 100);
      for (const [content, ok] of [
        [data, true],
        [bad, false],
      ] as const) {
        const verifier = new VerifyingStream({ sha256: sha(data), size, bucket: "b", key: "k" });
        let probe: Promise<number> | undefined;
        let passed = 0;
        const run = pipeline(
          Readable.from(
            (function* () {
              for (let at = 0; at < size; at += 64 * 1024) yield content.subarray(at, at + 64 * 1024);
            })(),
          ),
          verifier,
          new Writable({
            write(chunk: Buffer, _enc, cb) {
              passed += chunk.length;
              if (!probe && passed >= size / 2) {
                probe = liveHashJobs().then(({ loop }) => loop);
                probe.then(() => cb(), cb);
              } else cb();
            },
          }),
        );
        if (ok) await run;
        else await expect(run).rejects.toMatchObject({ code: "DATA_CORRUPTED" });
        expect({ size, jobsMidway: await probe }).toEqual({ size, jobsMidway: thread ? 1 : 0 });
        expect(await liveHashJobs()).toEqual({ loop: 0, worker: 0 });
      }
    }
  });
});

describe("peek", () => {
  it("returns the head and replays it before the rest", async () => {
    const { head, stream } = await peek(chunks(5, 1000), 2500);
    expect(head.length).toBe(3000);
    const all: Buffer[] = [];
    for await (const c of stream) all.push(c);
    expect(Buffer.concat(all)).toEqual(
      Buffer.concat(Array.from({ length: 5 }, (_, i) => Buffer.alloc(1000, i))),
    );
  });

  it("handles streams shorter than the peek and empty ones", async () => {
    const short = await peek(chunks(1, 10), 4100);
    expect(short.head.length).toBe(10);
    const empty = await peek(Readable.from([]), 4100);
    expect(empty.head.length).toBe(0);
    const rest: Buffer[] = [];
    for await (const c of empty.stream) rest.push(c);
    expect(rest).toEqual([]);
  });
});
