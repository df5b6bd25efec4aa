import { randomBytes } from "node:crypto";
import { crc32, deflateRawSync } from "node:zlib";

/**
 * Builders for executables and for the files that hide them (polyglots), made byte by byte in the
 * test so no binary fixture is checked in. Each executable carries exactly the header fields its
 * loader reads first, which is what the scanner confirms.
 */

/** A 64-bit little-endian ELF executable header (x86-64), padded to `size`. */
export function elf(size = 256): Buffer {
  const b = Buffer.alloc(size);
  b.set([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1]);
  b.writeUInt16LE(2, 16); // ET_EXEC
  b.writeUInt16LE(0x3e, 18); // EM_X86_64
  b.writeUInt32LE(1, 20); // EV_CURRENT
  return b;
}

/** A Windows PE: the MZ stub whose e_lfanew (at 0x3c) points at "PE\0\0". */
export function pe(size = 512): Buffer {
  const b = Buffer.alloc(size);
  b.write("MZ", 0, "latin1");
  b.writeUInt32LE(0x80, 0x3c);
  b.write("PE\0\0", 0x80, "latin1");
  b.writeUInt16LE(0x8664, 0x84); // AMD64
  return b;
}

/** A 64-bit little-endian Mach-O executable (x86-64). */
export function machO(size = 256): Buffer {
  const b = Buffer.alloc(size);
  b.writeUInt32LE(0xfeedfacf, 0);
  b.writeUInt32LE(0x01000007, 4); // CPU_TYPE_X86_64
  b.writeUInt32LE(3, 8);
  b.writeUInt32LE(2, 12); // MH_EXECUTE
  b.writeUInt32LE(12, 16); // ncmds
  b.writeUInt32LE(1200, 20); // sizeofcmds
  return b;
}

/** A universal ("fat") Mach-O with two architectures (big-endian header). */
export function universalMachO(size = 256): Buffer {
  const b = Buffer.alloc(size);
  b.writeUInt32BE(0xcafebabe, 0);
  b.writeUInt32BE(2, 4);
  b.writeUInt32BE(0x01000007, 8); // x86-64
  b.writeUInt32BE(0x0100000c, 28); // arm64
  return b;
}

/** A Java class file (Java 21): shares CAFEBABE with universal Mach-O. */
export function javaClass(size = 256): Buffer {
  const b = Buffer.alloc(size);
  b.writeUInt32BE(0xcafebabe, 0);
  b.writeUInt16BE(0, 4);
  b.writeUInt16BE(65, 6);
  return b;
}

/** A small, well-formed-looking PDF whose body is `bodyBytes` of incompressible stream data. */
export function pdf(bodyBytes = 2048): Buffer {
  return Buffer.concat([
    Buffer.from(
      "%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Length 0 /Filter /FlateDecode >>\nstream\n",
      "latin1",
    ),
    randomBytes(bodyBytes),
    Buffer.from("\nendstream\nendobj\ntrailer\n<< /Root 1 0 R >>\n%%EOF\n", "latin1"),
  ]);
}

/** A minimal PNG signature and IHDR chunk followed by `bodyBytes` of image data. */
export function png(bodyBytes = 2048): Buffer {
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13]),
    Buffer.from("IHDR"),
    Buffer.alloc(17),
    randomBytes(bodyBytes),
  ]);
}

export interface ZipMember {
  name: string;
  data: Buffer | string;
  /** Stored (method 0) instead of deflated (method 8). */
  stored?: boolean;
}

/** A zip archive (local headers, data, central directory, end record), as docx/xlsx/jar use. */
export function zip(members: ZipMember[]): Buffer {
  const locals: Buffer[] = [];
  const centrals: Buffer[] = [];
  let offset = 0;
  for (const member of members) {
    const raw = Buffer.from(member.data);
    const body = member.stored ? raw : deflateRawSync(raw);
    const name = Buffer.from(member.name, "utf8");
    const fields = (b: Buffer, at: number) => {
      b.writeUInt16LE(20, at); // version needed
      b.writeUInt16LE(0x0800, at + 2); // UTF-8 names
      b.writeUInt16LE(member.stored ? 0 : 8, at + 4);
      b.writeUInt32LE(crc32(raw), at + 10);
      b.writeUInt32LE(body.length, at + 14);
      b.writeUInt32LE(raw.length, at + 18);
      b.writeUInt16LE(name.length, at + 22);
    };
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    fields(local, 4);
    locals.push(local, name, body);
    const central = Buffer.alloc(46);
    central.writeUInt32LE(0x02014b50, 0);
    central.writeUInt16LE(20, 4); // version made by
    fields(central, 6);
    central.writeUInt32LE(offset, 42);
    centrals.push(central, name);
    offset += local.length + name.length + body.length;
  }
  const directory = Buffer.concat(centrals);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(members.length, 8);
  end.writeUInt16LE(members.length, 10);
  end.writeUInt32LE(directory.length, 12);
  end.writeUInt32LE(offset, 16);
  return Buffer.concat([...locals, directory, end]);
}

/** The members of a plain Word document, with an incompressible stored image of `imageBytes`. */
export function docxMembers(imageBytes = 4096): ZipMember[] {
  return [
    { name: "[Content_Types].xml", data: '<?xml version="1.0"?><Types/>' },
    { name: "_rels/.rels", data: '<?xml version="1.0"?><Relationships/>' },
    { name: "word/document.xml", data: `<w:document>${"<w:p>Hello</w:p>".repeat(200)}</w:document>` },
    { name: "word/media/image1.png", data: png(imageBytes), stored: true },
  ];
}
