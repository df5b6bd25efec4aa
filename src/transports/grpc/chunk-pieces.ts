import type { MethodDefinition } from "@grpc/grpc-js";
import { streamed } from "../../core/scavenge-pacer.ts";

/**
 * A `{ chunk }` message of a download stream, held as the pieces the store read. The method's
 * serializer (made chunk-aware in register.ts) writes the pieces straight into the message's
 * protobuf encoding: a byte is copied once there, instead of once to gather the pieces into one
 * Buffer and again by protobufjs (grpc-js's framing copies it once more in both cases).
 */
export class ChunkPieces {
  readonly pieces: readonly Buffer[];
  /** Bytes in all pieces. */
  readonly size: number;

  constructor(pieces: readonly Buffer[], size: number) {
    this.pieces = pieces;
    this.size = size;
  }
}

/** Room for the largest download message (1 MiB of bytes, download.ts) and its field header. */
const SCRATCH_BYTES = 1024 * 1024 + 16;

const varintLength = (n: number): number => {
  let length = 1;
  for (let rest = n >>> 7; rest > 0; rest >>>= 7) length++;
  return length;
};

function writeVarint(out: Buffer, n: number, at: number): number {
  let rest = n;
  let i = at;
  while (rest > 0x7f) {
    out[i++] = (rest & 0x7f) | 0x80;
    rest >>>= 7;
  }
  out[i++] = rest;
  return i;
}

/**
 * The serializer of a method whose response has a `bytes` field numbered `fieldNumber`: a
 * ChunkPieces is encoded here as that one field (what protobufjs writes for `{ chunk }`), any other
 * message by `serialize`. Sizes stay below 2^31 (the max message size), as the varints assume.
 *
 * A ChunkPieces is encoded into one buffer that the method keeps and reuses: grpc-js (1.14, which
 * does not compress responses) copies the serialized message into its frame before it returns, so a
 * new buffer per message would only be garbage, and at a gigabyte a second that garbage is what
 * drove V8 into back-to-back full collections (measured: 190 -> 400 MiB/s, 7.0 -> 2.3 CPU-s/GiB for
 * a Python client's download). The frame grpc-js allocates is counted for the scavenge pacer.
 * test/grpc-transfer.test.ts runs concurrent downloads through one method to keep this honest.
 */
export function chunkAwareSerializer(
  fieldNumber: number,
  serialize: (value: unknown) => Buffer,
): (value: unknown) => Buffer {
  const tag = fieldNumber * 8 + 2; // wire type 2: length-delimited
  const tagLength = varintLength(tag);
  let scratch = Buffer.alloc(0);
  return (value) => {
    if (!(value instanceof ChunkPieces)) return serialize(value);
    const length = tagLength + varintLength(value.size) + value.size;
    if (scratch.length < length) scratch = Buffer.allocUnsafeSlow(Math.max(length, SCRATCH_BYTES));
    const out = scratch.subarray(0, length);
    streamed(length);
    let at = writeVarint(out, value.size, writeVarint(out, tag, 0));
    for (const piece of value.pieces) {
      out.set(piece, at);
      at += piece.length;
    }
    return out;
  };
}

/** The number of a streamed response's `bytes chunk` field, from proto-loader's descriptor; else undefined. */
export function chunkFieldNumber(method: MethodDefinition<unknown, unknown>): number | undefined {
  if (!method.responseStream) return undefined;
  const type = (method as { responseType?: { type?: { field?: unknown } } }).responseType?.type;
  const fields = Array.isArray(type?.field)
    ? (type.field as { name?: string; number?: number; type?: string }[])
    : [];
  return fields.find((f) => f.name === "chunk" && f.type === "TYPE_BYTES")?.number;
}
