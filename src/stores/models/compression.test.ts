import { randomBytes } from "node:crypto";
import { Readable } from "node:stream";
import { gzipSync } from "node:zlib";
import { describe, expect, it } from "vitest";
import { chooseEncoding, decoder, encoder, encodingOf, looksCompressed } from "./compression.ts";

const text = Buffer.from(JSON.stringify({ vocab: Array.from({ length: 20_000 }, (_, i) => `token-${i}`) }));

async function roundTrip(encoding: "gzip" | "zstd", data: Buffer): Promise<Buffer> {
  const enc = encoder(encoding);
  const dec = decoder(encoding);
  if (!enc || !dec) throw new Error("no codec");
  const chunks: Buffer[] = [];
  for await (const c of Readable.from([data]).pipe(enc).pipe(dec)) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

describe("model compression choice", () => {
  it("compresses text that pays, with the better of gzip and zstd", async () => {
    const encoding = await chooseEncoding("config.json", text, true);
    expect(["gzip", "zstd"]).toContain(encoding);
    expect(await roundTrip(encoding as "gzip" | "zstd", text)).toEqual(text);
  });

  it("stores as is when compression is off, the name or magic says compressed, or the probe does not pay", async () => {
    expect(await chooseEncoding("config.json", text, false)).toBe("identity");
    for (const name of ["model.safetensors", "model.pt", "w.h5", "a.zip", "a.tar.gz", "m.zst"]) {
      expect(await chooseEncoding(name, text, true), name).toBe("identity");
    }
    expect(await chooseEncoding("weights", gzipSync(text), true)).toBe("identity");
    expect(await chooseEncoding("weights", randomBytes(256 * 1024), true)).toBe("identity");
    expect(await chooseEncoding("empty.txt", Buffer.alloc(0), true)).toBe("identity");
  });

  it("recognises compressed containers by their first bytes", () => {
    expect(looksCompressed("x", Buffer.from([0x50, 0x4b, 0x03, 0x04, 0]))).toBe(true);
    expect(looksCompressed("x", Buffer.from([0x28, 0xb5, 0x2f, 0xfd, 0]))).toBe(true);
    expect(looksCompressed("x", Buffer.from("plain text"))).toBe(false);
  });

  it("reads the encoding from object metadata; none is identity, an unknown one is corruption", () => {
    expect(encodingOf({})).toBe("identity");
    expect(encodingOf({ encoding: "zstd" })).toBe("zstd");
    expect(() => encodingOf({ encoding: "brotli" })).toThrow(
      expect.objectContaining({ code: "DATA_CORRUPTED" }),
    );
  });
});
