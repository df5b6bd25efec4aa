import { Readable } from "node:stream";
import { describe, expect, it } from "vitest";
import { UploadDecoder } from "./upload.ts";

const decode = async (messages: object[], signal?: AbortSignal) => {
  const decoder = new UploadDecoder(signal);
  Readable.from(messages).pipe(decoder);
  const chunks: Buffer[] = [];
  const body = (async () => {
    for await (const chunk of decoder) chunks.push(chunk as Buffer);
    return Buffer.concat(chunks).toString();
  })();
  const [head, bytes] = await Promise.all([decoder.header, body]);
  return { header: head, body: bytes };
};

describe("UploadDecoder", () => {
  it("takes the header from the first message and the bytes from the rest", async () => {
    const header = { bucket: "b", objectName: "k" };
    const out = await decode([
      { payload: "header", header },
      { payload: "chunk", chunk: Buffer.from("ab") },
      { payload: "chunk", chunk: Buffer.alloc(0) },
      { payload: "chunk", chunk: Buffer.from("c") },
    ]);
    expect(out).toEqual({ header, body: "abc" });
  });

  it("refuses bytes before the header, a second header, and a stream with no header", async () => {
    await expect(decode([{ payload: "chunk", chunk: Buffer.from("x") }])).rejects.toMatchObject({
      code: "INVALID_ARGUMENT",
    });
    await expect(
      decode([
        { payload: "header", header: {} },
        { payload: "header", header: {} },
      ]),
    ).rejects.toMatchObject({ code: "INVALID_ARGUMENT" });
    await expect(decode([])).rejects.toMatchObject({ code: "INVALID_ARGUMENT" });
  });

  it("does not end cleanly when the call was cancelled by the time the stream ends", async () => {
    const controller = new AbortController();
    controller.abort();
    await expect(
      decode(
        [
          { payload: "header", header: {} },
          { payload: "chunk", chunk: Buffer.from("x") },
        ],
        controller.signal,
      ),
    ).rejects.toMatchObject({ code: "CANCELLED" });
  });
});
