import { createHash } from "node:crypto";
import { Readable } from "node:stream";
import { describe, expect, it } from "vitest";
import { ChunkEncoder, DownloadDecoder } from "./transfer.ts";

const encode = async (pieces: Buffer[], chunkSize: number) => {
  const out: number[] = [];
  for await (const message of Readable.from(pieces).pipe(new ChunkEncoder(chunkSize))) {
    out.push((message as { chunk: Buffer }).chunk.length);
  }
  return out;
};

const header = (body: string, extra: object = {}) => ({
  payload: "header",
  header: {
    file: { sha256: createHash("sha256").update(body).digest("hex") },
    contentLength: body.length,
    ...extra,
  },
});

const decode = async (messages: object[], verify = true) => {
  const decoder = new DownloadDecoder({ verify });
  Readable.from(messages).pipe(decoder);
  const chunks: Buffer[] = [];
  for await (const chunk of decoder) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString();
};

describe("ChunkEncoder", () => {
  it("gathers small writes and splits large ones into messages of chunkSize", async () => {
    expect(await encode([Buffer.alloc(3), Buffer.alloc(3), Buffer.alloc(3)], 4)).toEqual([4, 4, 1]);
    expect(await encode([Buffer.alloc(10)], 4)).toEqual([4, 4, 2]);
    expect(await encode([], 4)).toEqual([]);
  });

  it("hashes exactly the bytes it sent, once the input has ended", async () => {
    const encoder = new ChunkEncoder(4);
    expect(encoder.sha256).toBeUndefined();
    await Readable.from([Buffer.from("hel"), Buffer.from("lo world")])
      .pipe(encoder)
      .toArray();
    expect(encoder.sha256).toBe(createHash("sha256").update("hello world").digest("hex"));
    const unhashed = new ChunkEncoder(4, undefined, { hash: false });
    await Readable.from([Buffer.from("hello")])
      .pipe(unhashed)
      .toArray();
    expect(unhashed.sha256).toBeUndefined();
  });
});

describe("DownloadDecoder", () => {
  it("passes the bytes after the header through and checks length and sha256", async () => {
    const chunk = (s: string) => ({ payload: "chunk", chunk: Buffer.from(s) });
    expect(await decode([header("hello"), chunk("hel"), chunk("lo")])).toBe("hello");
    await expect(decode([header("hello"), chunk("hel")])).rejects.toMatchObject({ code: "DATA_CORRUPTED" });
    await expect(decode([header("hello"), chunk("HELLO")])).rejects.toMatchObject({ code: "DATA_CORRUPTED" });
    // Without verify, only the length is checked; ranged reads are never hashed.
    expect(await decode([header("hello"), chunk("HELLO")], false)).toBe("HELLO");
    expect(await decode([header("hello", { range: { start: 0, end: 4 } }), chunk("HELLO")])).toBe("HELLO");
  });

  it("verifies unless told not to, naming the object and the call in the error", async () => {
    const decoder = new DownloadDecoder({ requestId: "r-1" });
    const body = { payload: "chunk", chunk: Buffer.from("HELLO") };
    const file = { bucket: "b", objectName: "k", sha256: createHash("sha256").update("hello").digest("hex") };
    Readable.from([{ payload: "header", header: { file, contentLength: 5 } }, body]).pipe(decoder);
    await expect(decoder.toArray()).rejects.toMatchObject({
      code: "DATA_CORRUPTED",
      requestId: "r-1",
      details: { bucket: "b", objectName: "k", sha256: file.sha256 },
    });
  });

  it("refuses a stream without a header or with a second one", async () => {
    await expect(decode([])).rejects.toMatchObject({ code: "DATA_CORRUPTED" });
    await expect(decode([{ payload: "chunk", chunk: Buffer.from("x") }])).rejects.toMatchObject({
      code: "DATA_CORRUPTED",
    });
    await expect(decode([header(""), header("")])).rejects.toMatchObject({ code: "DATA_CORRUPTED" });
  });
});
