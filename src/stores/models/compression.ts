import type { Transform } from "node:stream";
import { promisify } from "node:util";
import zlib from "node:zlib";
import { StorageError } from "../../errors.ts";
import type { Encoding } from "./types.ts";

/**
 * Per-file compression for MODEL_STORAGE_COMPRESSION: formats that are compressed already are
 * recognised by extension or magic bytes and stored as they are; anything else is compressed only
 * when a probe of its first bytes shows it pays (at least MIN_SAVING smaller), with whichever of
 * gzip and zstd does better on that probe.
 */

/** How much of a file the probe compresses before deciding. */
export const PROBE_BYTES = 1024 * 1024;
/** Compression must save at least this share of the probe to be worth a decompression on every read. */
export const MIN_SAVING = 0.1;

/**
 * Already compressed, or dense binary that compression does not shrink: archives, PyTorch
 * checkpoints (zip), safetensors and HDF5 weights (raw floats), media.
 */
const INCOMPRESSIBLE_EXTENSIONS = new Set([
  "safetensors",
  "zip",
  "gz",
  "tgz",
  "zst",
  "zstd",
  "bz2",
  "xz",
  "7z",
  "lz4",
  "h5",
  "hdf5",
  "keras",
  "pt",
  "pth",
  "ckpt",
  "npz",
  "jpg",
  "jpeg",
  "png",
  "webp",
  "gif",
  "mp3",
  "mp4",
  "parquet",
]);

/** Leading bytes of compressed containers, for files whose name does not say. */
const COMPRESSED_MAGIC: readonly Buffer[] = [
  Buffer.from([0x50, 0x4b, 0x03, 0x04]), // zip (and .pt, .keras, .npz)
  Buffer.from([0x1f, 0x8b]), // gzip
  Buffer.from([0x28, 0xb5, 0x2f, 0xfd]), // zstd
  Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]), // xz
  Buffer.from("BZh"), // bzip2
  Buffer.from([0x37, 0x7a, 0xbc, 0xaf, 0x27, 0x1c]), // 7z
  Buffer.from([0x04, 0x22, 0x4d, 0x18]), // lz4 frame
];

const zstdAvailable = typeof zlib.createZstdCompress === "function";
const gzipProbe = promisify(zlib.gzip);
const zstdProbe = zstdAvailable ? promisify(zlib.zstdCompress) : undefined;

export function extensionOf(path: string): string {
  const name = path.slice(path.lastIndexOf("/") + 1);
  const dot = name.lastIndexOf(".");
  return dot > 0 ? name.slice(dot + 1).toLowerCase() : "";
}

/** Whether the name or the first bytes say the content is compressed already. */
export function looksCompressed(path: string, head: Buffer): boolean {
  if (INCOMPRESSIBLE_EXTENSIONS.has(extensionOf(path))) return true;
  return COMPRESSED_MAGIC.some(
    (magic) => head.length >= magic.length && head.subarray(0, magic.length).equals(magic),
  );
}

/** The encoding to store a file with, judged from its path and its first PROBE_BYTES. */
export async function chooseEncoding(path: string, probe: Buffer, enabled: boolean): Promise<Encoding> {
  if (!enabled || probe.length === 0 || looksCompressed(path, probe)) return "identity";
  const sample = probe.subarray(0, PROBE_BYTES);
  const [gzip, zstd] = await Promise.all([
    gzipProbe(sample).then((b) => b.length),
    zstdProbe ? zstdProbe(sample).then((b) => b.length) : Number.POSITIVE_INFINITY,
  ]);
  const best: Encoding = zstd <= gzip ? "zstd" : "gzip";
  const size = Math.min(gzip, zstd);
  return size <= sample.length * (1 - MIN_SAVING) ? best : "identity";
}

/** A stream that encodes, or undefined for identity. */
export function encoder(encoding: Encoding): Transform | undefined {
  if (encoding === "gzip") return zlib.createGzip();
  if (encoding === "zstd") return zlib.createZstdCompress();
  return undefined;
}

/** A stream that decodes what `encoder` produced, or undefined for identity. */
export function decoder(encoding: Encoding): Transform | undefined {
  if (encoding === "gzip") return zlib.createGunzip();
  if (encoding === "zstd") {
    if (!zstdAvailable) {
      throw new StorageError(
        "UNSUPPORTED_OPERATION",
        "This Node has no zstd; the blob needs Node 24 or later.",
      );
    }
    return zlib.createZstdDecompress();
  }
  return undefined;
}

/** The encoding a blob's object metadata records; a blob without one (e.g. from an upload session) is identity. */
export function encodingOf(metadata: Record<string, string>): Encoding {
  const e = metadata.encoding;
  if (e === "gzip" || e === "zstd") return e;
  if (e === undefined || e === "identity") return "identity";
  throw new StorageError("DATA_CORRUPTED", `A blob records an unknown encoding '${e}'.`, {
    field: "encoding",
  });
}
