import { once } from "node:events";
import { PassThrough, Readable, Writable } from "node:stream";
import { describe, expect, it } from "vitest";
import { chunkByChunk, pipeInto } from "./pipe.ts";

// Not events.once(s, "close"): that rejects on the 'error' these streams are meant to emit first.
const closed = (s: Readable | Writable) =>
  new Promise<void>((resolve) => (s.closed ? resolve() : s.once("close", () => resolve())));

describe("pipeInto", () => {
  it("passes every chunk in order and ends the destination", async () => {
    const got: string[] = [];
    const dest = new Writable({
      write(chunk: Buffer, _enc, cb) {
        got.push(chunk.toString());
        cb();
      },
    });
    pipeInto(Readable.from(["a", "b", "c"], { objectMode: false }), dest);
    await once(dest, "finish");
    expect(got.join("")).toBe("abc");
  });

  it("destroys the destination with the source's error", async () => {
    const source = new PassThrough();
    const dest = new PassThrough();
    pipeInto(source, dest);
    source.destroy(new Error("source broke"));
    await closed(dest);
    expect(dest.errored?.message).toBe("source broke");
  });

  it("destroys the destination when the source closes before its end, with early() or a premature close", async () => {
    const plain = { source: new PassThrough(), dest: new PassThrough() };
    pipeInto(plain.source, plain.dest);
    plain.source.write("partial");
    plain.source.destroy();
    await closed(plain.dest);
    expect((plain.dest.errored as NodeJS.ErrnoException | null)?.code).toBe("ERR_STREAM_PREMATURE_CLOSE");

    const named = { source: new PassThrough(), dest: new PassThrough() };
    pipeInto(named.source, named.dest, () => Object.assign(new Error("cut"), { name: "AbortError" }));
    named.source.destroy();
    await closed(named.dest);
    expect(named.dest.errored?.name).toBe("AbortError");
  });

  it("destroys the source when the destination goes first, with its error if it had one", async () => {
    const quiet = { source: new PassThrough(), dest: new PassThrough() };
    pipeInto(quiet.source, quiet.dest);
    quiet.dest.destroy();
    await closed(quiet.source);
    expect(quiet.source.destroyed).toBe(true);
    expect(quiet.source.errored).toBeNull();

    const failing = { source: new PassThrough(), dest: new PassThrough() };
    pipeInto(failing.source, failing.dest);
    failing.dest.destroy(new Error("dest broke"));
    await closed(failing.source);
    expect(failing.source.errored?.message).toBe("dest broke");
  });
});

describe("chunkByChunk", () => {
  it("hands over each read as it came, not concatenated, and the source's error", async () => {
    const parts = [Buffer.from("one"), Buffer.from("two"), Buffer.from("three")];
    const source = new PassThrough();
    for (const p of parts) source.write(p);
    source.end();
    const got: Buffer[] = [];
    for await (const chunk of chunkByChunk(source)) got.push(chunk as Buffer);
    expect(got.map(String)).toEqual(["one", "two", "three"]);

    const broken = new PassThrough();
    const chunks = chunkByChunk(broken);
    broken.write("x");
    broken.destroy(new Error("store went away"));
    await expect(
      (async () => {
        for await (const _ of chunks);
      })(),
    ).rejects.toThrow("store went away");
  });
});
