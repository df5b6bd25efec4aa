import { pipeline, Readable } from "node:stream";
import { createGzip } from "node:zlib";

/**
 * A streaming .tar.gz writer (POSIX ustar, with a pax header for a path too long for ustar): each
 * entry's body is opened only when its turn comes and piped through, so an archive of any size
 * needs the memory of one chunk. Entries must state their size up front (tar headers come first).
 */

export interface TarEntry {
  path: string;
  size: number;
  mtime: Date;
  open(): Promise<Readable>;
}

const BLOCK = 512;

function octal(value: number, width: number): string {
  return `${value.toString(8).padStart(width - 1, "0")}\0`;
}

function header(name: string, prefix: string, size: number, mtime: Date, type: "0" | "x"): Buffer {
  const block = Buffer.alloc(BLOCK);
  block.write(name, 0, 100, "utf8");
  block.write(octal(0o644, 8), 100, "ascii");
  block.write(octal(0, 8), 108, "ascii");
  block.write(octal(0, 8), 116, "ascii");
  block.write(octal(size, 12), 124, "ascii");
  block.write(octal(Math.floor(mtime.getTime() / 1000), 12), 136, "ascii");
  block.write("        ", 148, "ascii");
  block.write(type, 156, "ascii");
  block.write("ustar\0", 257, "ascii");
  block.write("00", 263, "ascii");
  block.write(prefix, 345, 155, "utf8");
  let sum = 0;
  for (const byte of block) sum += byte;
  block.write(`${sum.toString(8).padStart(6, "0")}\0 `, 148, "ascii");
  return block;
}

/** ustar's name/prefix split of a path, or undefined when the path needs a pax header. */
function split(path: string): { name: string; prefix: string } | undefined {
  if (Buffer.byteLength(path) <= 100) return { name: path, prefix: "" };
  for (let i = path.indexOf("/"); i !== -1; i = path.indexOf("/", i + 1)) {
    const prefix = path.slice(0, i);
    const name = path.slice(i + 1);
    if (Buffer.byteLength(prefix) <= 155 && Buffer.byteLength(name) <= 100 && name) return { name, prefix };
  }
  return undefined;
}

/** A pax record "<len> path=<path>\n", where len counts the whole record, itself included. */
function paxRecord(key: string, value: string): Buffer {
  const body = ` ${key}=${value}\n`;
  let length = Buffer.byteLength(body);
  while (String(length).length + Buffer.byteLength(body) !== length) {
    length = String(length).length + Buffer.byteLength(body);
  }
  return Buffer.from(`${length}${body}`);
}

const padding = (size: number) => Buffer.alloc((BLOCK - (size % BLOCK)) % BLOCK);

async function* tarBlocks(entries: Iterable<TarEntry>): AsyncGenerator<Buffer> {
  for (const entry of entries) {
    const parts = split(entry.path);
    if (parts) yield header(parts.name, parts.prefix, entry.size, entry.mtime, "0");
    else {
      const pax = paxRecord("path", entry.path);
      yield header("PaxHeader", "", pax.length, entry.mtime, "x");
      yield pax;
      yield padding(pax.length);
      yield header(entry.path.slice(-100), "", entry.size, entry.mtime, "0");
    }
    let written = 0;
    for await (const chunk of await entry.open()) {
      const buf = chunk as Buffer;
      written += buf.length;
      if (written > entry.size) throw new Error(`tar: ${entry.path} is longer than its stated size`);
      yield buf;
    }
    if (written !== entry.size) throw new Error(`tar: ${entry.path} is shorter than its stated size`);
    yield padding(entry.size);
  }
  yield Buffer.alloc(BLOCK * 2);
}

/** The entries as a gzip-compressed tar stream; a failing entry fails the stream. */
export function tarGz(entries: Iterable<TarEntry>): Readable {
  const gzip = createGzip();
  // pipeline() destroys both on failure, so the reader sees the error instead of a short archive.
  pipeline(Readable.from(tarBlocks(entries)), gzip, () => {});
  return gzip;
}
