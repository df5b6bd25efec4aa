import { describe, expect, it } from "vitest";
import { ChunkPieces, chunkAwareSerializer } from "../chunk-pieces.ts";
import { storageProto } from "../definition.ts";
import { regroup } from "./download.ts";

const groups = async (pieces: number[], target: number, max: number) => {
  const source = (async function* () {
    let n = 0;
    for (const length of pieces) yield Buffer.from(Array.from({ length }, () => n++ % 256));
  })();
  const out: Buffer[] = [];
  for await (const group of regroup(source, target, max)) {
    expect(group.size).toBe(group.pieces.reduce((sum, p) => sum + p.length, 0));
    out.push(Buffer.concat(group.pieces));
  }
  return out;
};

const ordered = (length: number) => Buffer.from(Array.from({ length }, (_, i) => i % 256));

describe("regroup", () => {
  it("gathers small reads into messages of at least the target, bytes in order", async () => {
    const out = await groups([10, 10, 10, 10, 10], 25, 100);
    expect(out.map((b) => b.length)).toEqual([30, 20]);
    expect(Buffer.concat(out)).toEqual(ordered(50));
  });
  it("splits large reads at the maximum", async () => {
    const out = await groups([250], 25, 100);
    expect(out.map((b) => b.length)).toEqual([100, 100, 50]);
    expect(Buffer.concat(out)).toEqual(ordered(250));
  });
  it("never exceeds the maximum when reads straddle it", async () => {
    const out = await groups([60, 60, 60], 90, 100);
    expect(out.map((b) => b.length)).toEqual([100, 80]);
    expect(Buffer.concat(out)).toEqual(ordered(180));
  });
  it("skips empty reads and yields nothing for an empty stream", async () => {
    expect(await groups([0, 0], 25, 100)).toEqual([]);
  });
});

describe("chunkAwareSerializer", () => {
  // What protobufjs writes for { chunk } with `bytes chunk = 2`: tag 0x12, varint length, bytes.
  const serialize = chunkAwareSerializer(2, () => Buffer.from("fallback"));

  it("encodes pieces as the one bytes field, with a multi-byte length", async () => {
    const [group] = await (async () => {
      const out = [];
      for await (const g of regroup(
        (async function* () {
          yield ordered(200);
          yield ordered(100);
        })(),
        300,
        1000,
      ))
        out.push(g);
      return out;
    })();
    const bytes = serialize(group);
    expect(bytes.subarray(0, 3)).toEqual(Buffer.from([0x12, 0xac, 0x02])); // 300 = 0b10_0101100
    expect(bytes.subarray(3)).toEqual(Buffer.concat([ordered(200), ordered(100)]));
  });
  it("produces what the DownloadFile response decoder reads as { chunk }", () => {
    const method = storageProto().lumenslate.storage.v1.StorageService.service.DownloadFile;
    const encode = chunkAwareSerializer(2, method.responseSerialize as (value: unknown) => Buffer);
    const bytes = encode(new ChunkPieces([ordered(70_000), ordered(5)], 70_005));
    expect(method.responseDeserialize(bytes)).toMatchObject({
      payload: "chunk",
      chunk: Buffer.concat([ordered(70_000), ordered(5)]),
    });
  });
  it("encodes into one reused buffer, valid until its next message (grpc-js copies it at once)", () => {
    const first = serialize(new ChunkPieces([Buffer.from("aaaa")], 4));
    expect(first.subarray(2).toString()).toBe("aaaa");
    const second = serialize(new ChunkPieces([Buffer.from("bbbb")], 4));
    expect(second.subarray(2).toString()).toBe("bbbb");
    expect(second.buffer).toBe(first.buffer);
    expect(first.subarray(2).toString()).toBe("bbbb");
  });
  it("leaves every other message to the method's own serializer", () => {
    expect(serialize({ header: {} }).toString()).toBe("fallback");
  });
});
