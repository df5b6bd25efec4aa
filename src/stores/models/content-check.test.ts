import { createHash } from "node:crypto";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { describe, expect, it } from "vitest";
import { StorageError } from "../../errors.ts";
import { ContentCheck } from "./content-check.ts";

const sha = (b: Buffer) => createHash("sha256").update(b).digest("hex");
const fail = (message: string) => new StorageError("DATA_CORRUPTED", message);

async function run(chunks: Buffer[], check: ContentCheck): Promise<{ received: Buffer; error?: unknown }> {
  const out: Buffer[] = [];
  try {
    await pipeline(Readable.from(chunks), check, async (source) => {
      for await (const c of source) out.push(c as Buffer);
    });
    return { received: Buffer.concat(out) };
  } catch (error) {
    return { received: Buffer.concat(out), error };
  }
}

describe("ContentCheck", () => {
  const chunks = [Buffer.from("first "), Buffer.from("second "), Buffer.from("third")];
  const whole = Buffer.concat(chunks);

  it("passes content that matches and reports its sha256 and size", async () => {
    const check = new ContentCheck({ sha256: sha(whole), size: whole.length }, fail, { holdLast: true });
    expect(await run(chunks, check)).toEqual({ received: whole });
    expect({ sha256: check.sha256, bytes: check.bytes }).toEqual({ sha256: sha(whole), bytes: whole.length });
  });

  it("with holdLast, never lets the last chunk of mismatching content through", async () => {
    const check = new ContentCheck({ sha256: "0".repeat(64) }, fail, { holdLast: true });
    const { received, error } = await run(chunks, check);
    expect(error).toMatchObject({ code: "DATA_CORRUPTED" });
    expect(received.length).toBeLessThan(whole.length);
  });

  it("fails a body longer or shorter than declared", async () => {
    const long = await run(chunks, new ContentCheck({ size: 3 }, fail));
    expect(long.error).toMatchObject({ code: "DATA_CORRUPTED" });
    const short = await run(chunks, new ContentCheck({ size: whole.length + 1 }, fail));
    expect(short.error).toMatchObject({ code: "DATA_CORRUPTED" });
  });
});
