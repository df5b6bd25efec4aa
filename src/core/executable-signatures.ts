/**
 * Finds native executables embedded anywhere in a buffer, and zip members named like executables.
 * A bare magic number is 2-4 bytes and turns up by chance in compressed or random data, so each
 * candidate is confirmed by the header fields its loader checks first; a chance match then needs
 * 8+ more exact bytes, which keeps images, PDFs and model weights from being refused at random.
 */

export type ExecutableKind = "elf" | "pe" | "macho";

const ELF = Buffer.from([0x7f, 0x45, 0x4c, 0x46]);
const MZ = Buffer.from("MZ");
const PE_SIGNATURE = 0x50450000; // "PE\0\0"
/** A PE header far from its MZ stub is legal but unheard of; bounding it bounds the look-up. */
const MAX_PE_OFFSET = 0x10000;
/** Thin Mach-O (32/64-bit, either byte order) and universal ("fat") binaries. */
const MACHO_THIN = [0xfeedface, 0xfeedfacf, 0xcefaedfe, 0xcffaedfe].map(u32be);
const MACHO_FAT = [0xcafebabe, 0xcafebabf].map(u32be);
/** CPU families Mach-O exists for: x86, ARM, PowerPC (the high byte carries the 64-bit ABI flag). */
const MACHO_CPUS = new Set([7, 12, 18]);
/**
 * A universal binary holds a handful of architectures; a Java class file shares CAFEBABE but has
 * its major version (45 and up) where the count would be, so it is not taken for one. Java classes
 * are left alone on purpose: jars are made of them, and a JVM runs one only when told to.
 */
const MAX_FAT_ARCHS = 19;

/** Member names that run when opened on Windows, macOS or Linux (not macros: see README). */
const EXECUTABLE_MEMBERS = new Set([
  "exe",
  "dll",
  "scr",
  "com",
  "cpl",
  "msi",
  "msp",
  "sys",
  "pif",
  "bat",
  "cmd",
  "ps1",
  "vbs",
  "vbe",
  "jse",
  "wsf",
  "wsh",
  "hta",
  "lnk",
  "jar",
  "class",
  "sh",
  "elf",
  "so",
  "dylib",
  "apk",
]);
const PK = Buffer.from("PK");
/** After "PK": 3,4 opens a local file header, 1,2 a central directory entry. */
const LOCAL_HEADER = { tag: 0x0304, lengthAt: 26, nameAt: 30 };
const CENTRAL_HEADER = { tag: 0x0102, lengthAt: 28, nameAt: 46 };

function u32be(value: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(value);
  return b;
}

function isElf(buf: Buffer, at: number): boolean {
  if (at + 24 > buf.length) return false;
  const elfClass = buf[at + 4];
  const order = buf[at + 5];
  if ((elfClass !== 1 && elfClass !== 2) || (order !== 1 && order !== 2) || buf[at + 6] !== 1) return false;
  const le = order === 1;
  const type = le ? buf.readUInt16LE(at + 16) : buf.readUInt16BE(at + 16);
  const version = le ? buf.readUInt32LE(at + 20) : buf.readUInt32BE(at + 20);
  return type >= 1 && type <= 4 && version === 1; // relocatable, executable, shared object, core
}

/** `MZ` alone is two bytes of chance; a PE also has e_lfanew pointing at "PE\0\0". */
function isPe(buf: Buffer, at: number): boolean {
  if (at + 0x40 > buf.length) return false;
  const offset = buf.readUInt32LE(at + 0x3c);
  const pe = at + offset;
  return (
    offset >= 4 && offset <= MAX_PE_OFFSET && pe + 4 <= buf.length && buf.readUInt32BE(pe) === PE_SIGNATURE
  );
}

function isMachOCpu(cpu: number): boolean {
  const abi = cpu >>> 24;
  return (abi === 0 || abi === 1 || abi === 2) && MACHO_CPUS.has(cpu & 0xffffff);
}

function isThinMachO(buf: Buffer, at: number): boolean {
  if (at + 28 > buf.length) return false;
  const be = buf[at] === 0xfe;
  const read = (o: number) => (be ? buf.readUInt32BE(at + o) : buf.readUInt32LE(at + o));
  const fileType = read(12);
  const commands = read(16);
  return isMachOCpu(read(4)) && fileType >= 1 && fileType <= 12 && commands >= 1 && commands <= 4096;
}

function isFatMachO(buf: Buffer, at: number): boolean {
  if (at + 12 > buf.length) return false;
  const archs = buf.readUInt32BE(at + 4);
  return archs >= 1 && archs <= MAX_FAT_ARCHS && isMachOCpu(buf.readUInt32BE(at + 8));
}

const CHECKS: [ExecutableKind, Buffer[], (buf: Buffer, at: number) => boolean][] = [
  ["elf", [ELF], isElf],
  ["pe", [MZ], isPe],
  ["macho", MACHO_THIN, isThinMachO],
  ["macho", MACHO_FAT, isFatMachO],
];

/** The first confirmed executable header in `buf` (one cut off by the buffer's end is not seen). */
export function findExecutable(buf: Buffer): { kind: ExecutableKind; offset: number } | undefined {
  // Plain indexOf loops: a generator per magic cost more than the searches on small uploads.
  for (const [kind, magics, confirm] of CHECKS) {
    for (const magic of magics) {
      for (let at = buf.indexOf(magic); at !== -1; at = buf.indexOf(magic, at + 1)) {
        if (confirm(buf, at)) return { kind, offset: at };
      }
    }
  }
  return undefined;
}

/**
 * The executable extension of the first zip member in `buf` named like an executable, from local
 * file headers and central directory entries (whichever are inside the buffer).
 */
export function findExecutableMember(buf: Buffer): string | undefined {
  // One search for "PK" serves both kinds of header; local headers are still judged first.
  const central: number[] = [];
  for (let at = buf.indexOf(PK); at !== -1 && at + 4 <= buf.length; at = buf.indexOf(PK, at + 1)) {
    const tag = buf.readUInt16BE(at + 2);
    if (tag === CENTRAL_HEADER.tag) central.push(at);
    else if (tag === LOCAL_HEADER.tag) {
      const extension = memberExtension(buf, at, LOCAL_HEADER);
      if (extension) return extension;
    }
  }
  for (const at of central) {
    const extension = memberExtension(buf, at, CENTRAL_HEADER);
    if (extension) return extension;
  }
  return undefined;
}

function memberExtension(
  buf: Buffer,
  at: number,
  header: { lengthAt: number; nameAt: number },
): string | undefined {
  if (at + header.nameAt > buf.length) return undefined;
  const end = at + header.nameAt + buf.readUInt16LE(at + header.lengthAt);
  if (end > buf.length) return undefined;
  return executableExtension(buf.toString("latin1", at + header.nameAt, end));
}

function executableExtension(name: string): string | undefined {
  // Windows drops trailing dots and spaces when it creates the file: "run.exe. " is "run.exe".
  const base = name
    .slice(Math.max(name.lastIndexOf("/"), name.lastIndexOf("\\")) + 1)
    .toLowerCase()
    .replace(/[. ]+$/, "");
  const dot = base.lastIndexOf(".");
  const extension = dot >= 0 ? base.slice(dot + 1) : "";
  return EXECUTABLE_MEMBERS.has(extension) ? extension : undefined;
}

/** `#!/...` at the very start: a script the kernel runs once the file is marked executable. */
export function startsWithShebang(head: Buffer): boolean {
  return /^#!\s*\//.test(head.toString("latin1", 0, Math.min(head.length, 16)));
}
