import { StorageError } from "../errors.ts";
import {
  type ExecutableKind,
  findExecutable,
  findExecutableMember,
  startsWithShebang,
} from "./executable-signatures.ts";

/**
 * How many bytes at the start and at the end of an upload are searched for hidden executables.
 * Polyglots put their second format where its reader looks: at the start (ELF, PE, Mach-O loaders;
 * a document's bytes after it) or at the end (zip readers start at the central directory, and
 * appended payloads sit there). The middle of a large file is not searched: that would cost a pass
 * over every byte for formats whose readers never look there.
 */
export const SCAN_WINDOW_BYTES = 64 * 1024;

/**
 * Names under which an executable is no disguise: executables and scripts themselves, and archives,
 * packages and disk images, which hold executables by design. The sniffer already holds each to its
 * own format; everything else (documents, media, text, data, model files, no extension) is scanned.
 */
const NOT_SCANNED = new Set(
  [
    "exe dll so dylib elf ko efi sys scr com cpl msi msp app appimage run out class jar war ear wasm",
    "apk aab ipa sh bash zsh ksh csh fish command py pyw pl rb php js mjs cjs ts lua tcl r ps1 bat cmd vbs",
    "zip tar gz tgz bz2 tbz2 xz txz zst lz lz4 lzma 7z rar cab cpio deb rpm whl egg nupkg gem crx xpi",
    "vsix iso img dmg vhd vhdx vmdk qcow2 squashfs snap pkg",
  ]
    .join(" ")
    .split(" "),
);

const KIND_NAMES: Record<ExecutableKind, string> = { elf: "ELF", pe: "Windows PE", macho: "Mach-O" };

/** A scanner for uploads named with `extension`, or undefined when that name may hold executables. */
export function executableScannerFor(
  extension: string,
  window = SCAN_WINDOW_BYTES,
): ExecutableScanner | undefined {
  return NOT_SCANNED.has(extension) ? undefined : new ExecutableScanner(extension, window);
}

/**
 * Searches the first and the last `window` bytes of a stream, fed chunk by chunk, for embedded
 * executables, zip members named like executables, and a shebang at offset 0. It keeps two
 * fixed buffers (the head, and the tail as a ring), so memory does not grow with the upload.
 * The head is checked as soon as it is full (refusing mid-stream), the tail at the end.
 */
export class ExecutableScanner {
  readonly #extension: string;
  readonly #head: Buffer;
  /** Allocated once the stream outgrows the head: a small upload never needs a tail. */
  #tail: Buffer | undefined;
  #headLength = 0;
  #headChecked = false;
  /** Next write position in the tail ring; #wrapped once it has been filled at least once. */
  #tailEnd = 0;
  #wrapped = false;
  #total = 0;

  constructor(extension: string, window = SCAN_WINDOW_BYTES) {
    this.#extension = extension;
    // Unzeroed: only the bytes written are ever read (#headLength, #tailEnd and #wrapped say which).
    this.#head = Buffer.allocUnsafe(window);
  }

  /** Bytes this scanner may hold on to, whatever the size of the stream. */
  get retainedBytes(): number {
    return 2 * this.#head.length;
  }

  /** Takes the next chunk; returns the refusal if the (now complete) head hides an executable. */
  update(chunk: Buffer): StorageError | undefined {
    const before = this.#total;
    this.#total += chunk.length;
    if (!this.#headChecked) {
      const taken = chunk.copy(this.#head, this.#headLength);
      this.#headLength += taken;
      if (this.#headLength === this.#head.length) {
        this.#headChecked = true;
        const refusal = this.#checkHead();
        if (refusal) return refusal;
      }
    }
    const window = this.#head.length;
    // While the stream fits in the head, the head is the tail too (finish() checks no tail then).
    if (this.#total <= window) return undefined;
    if (before <= window) {
      // Just outgrew the head: the tail starts as the head's bytes, then takes the rest of the chunk.
      this.#tail = Buffer.allocUnsafe(window);
      this.#head.copy(this.#tail);
      this.#tailEnd = 0;
      this.#wrapped = true;
      this.#remember(this.#tail, chunk.subarray(window - before));
    } else if (this.#tail) this.#remember(this.#tail, chunk);
    return undefined;
  }

  /** At end of stream: checks what has not been checked yet. */
  finish(): StorageError | undefined {
    if (!this.#headChecked) {
      // The whole stream fitted in the head.
      this.#headChecked = true;
      return this.#checkHead();
    }
    if (this.#total <= this.#head.length) return undefined;
    return this.#check(this.#tailBytes(), "near its end");
  }

  #checkHead(): StorageError | undefined {
    const head = this.#head.subarray(0, this.#headLength);
    if (startsWithShebang(head)) {
      return this.#refuse(
        "script",
        `${this.#name()} starts with '#!' (a script); scripts are accepted only under a script's name such as .sh or .py.`,
      );
    }
    return this.#check(head, "near its start");
  }

  #check(bytes: Buffer, where: string): StorageError | undefined {
    const executable = findExecutable(bytes);
    if (executable) {
      return this.#refuse(
        executable.kind,
        `${this.#name()} hides an executable (${KIND_NAMES[executable.kind]}) ${where}; executables are accepted only under their own name.`,
      );
    }
    const member = findExecutableMember(bytes);
    if (member) {
      return this.#refuse(
        "zip-member",
        `${this.#name()} holds a zip member named like an executable (.${member}); it is refused.`,
      );
    }
    return undefined;
  }

  #name(): string {
    return this.#extension ? `This .${this.#extension} file` : "This file";
  }

  #refuse(detected: string, message: string): StorageError {
    return new StorageError("UNSUPPORTED_TYPE", message, { field: "content", detected });
  }

  /** Writes the chunk into the tail ring (only its last `window` bytes can matter). */
  #remember(ring: Buffer, chunk: Buffer): void {
    let data = chunk;
    if (data.length >= ring.length) {
      data = data.subarray(data.length - ring.length);
      data.copy(ring, 0);
      this.#tailEnd = 0;
      this.#wrapped = true;
      return;
    }
    const first = data.copy(ring, this.#tailEnd);
    if (first < data.length) {
      data.copy(ring, 0, first);
      this.#wrapped = true;
    }
    this.#tailEnd = (this.#tailEnd + data.length) % ring.length;
    if (this.#tailEnd === 0 && data.length > 0) this.#wrapped = true;
  }

  /** The ring's content in stream order (a copy of at most `window` bytes, made once per upload). */
  #tailBytes(): Buffer {
    const ring = this.#tail ?? this.#head.subarray(0, 0);
    if (!this.#wrapped) return ring.subarray(0, this.#tailEnd);
    return Buffer.concat([ring.subarray(this.#tailEnd), ring.subarray(0, this.#tailEnd)]);
  }
}
