import { randomBytes } from "node:crypto";
import { Readable, Writable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { describe, expect, it } from "vitest";
import {
  docxMembers,
  elf,
  javaClass,
  machO,
  pdf,
  pe,
  png,
  universalMachO,
  zip,
} from "../../test/support/polyglots.ts";
import { ExecutableScanner, executableScannerFor, SCAN_WINDOW_BYTES } from "./executable-scan.ts";
import { findExecutable, findExecutableMember } from "./executable-signatures.ts";
import { IngestGuard } from "./ingest.ts";

const MiB = 1024 * 1024;

/** Feeds `data` to a scanner in `chunk`-sized pieces, as a stream would; returns the refusal, if any. */
function scan(data: Buffer, extension: string, chunk = 64 * 1024, window = SCAN_WINDOW_BYTES) {
  const scanner = new ExecutableScanner(extension, window);
  for (let at = 0; at < data.length; at += chunk) {
    const refusal = scanner.update(data.subarray(at, at + chunk));
    if (refusal) return refusal;
  }
  return scanner.finish();
}

describe("findExecutable", () => {
  it.each([
    ["ELF", elf(), "elf"],
    ["PE", pe(), "pe"],
    ["Mach-O", machO(), "macho"],
    ["universal Mach-O", universalMachO(), "macho"],
  ])("finds %s at any offset", (_label, binary, kind) => {
    const at = 1000 + (binary.length % 7);
    const found = findExecutable(Buffer.concat([randomBytes(at), binary, randomBytes(300)]));
    expect(found).toEqual({ kind, offset: at });
  });

  it("does not take bare magic bytes or a Java class for an executable", () => {
    const noise = [
      Buffer.concat([Buffer.from("\x7fELF", "latin1"), Buffer.alloc(60)]), // no class, order, version
      Buffer.concat([Buffer.from("MZ"), Buffer.alloc(200)]), // e_lfanew points at zeros
      Buffer.from("MZ is a fine pair of letters, PE too."),
      javaClass(),
    ];
    for (const bytes of noise)
      expect(findExecutable(Buffer.concat([randomBytes(100), bytes]))).toBeUndefined();
  });

  it("ignores a header cut off by the end of the buffer", () => {
    expect(findExecutable(elf().subarray(0, 20))).toBeUndefined();
  });
});

describe("findExecutableMember", () => {
  it("finds executable names in local headers and the central directory", () => {
    const archive = zip([...docxMembers(), { name: "word/embeddings/setup.EXE", data: "x" }]);
    expect(findExecutableMember(archive)).toBe("exe");
    // The central directory alone (the tail of a large archive) is enough.
    const directory = archive.subarray(archive.indexOf(Buffer.from([0x50, 0x4b, 1, 2])));
    expect(findExecutableMember(directory)).toBe("exe");
    // Windows drops trailing dots and spaces from file names.
    expect(findExecutableMember(zip([{ name: "a/run.bat. ", data: "x" }]))).toBe("bat");
  });

  it("accepts the members of ordinary documents", () => {
    expect(findExecutableMember(zip(docxMembers()))).toBeUndefined();
    expect(
      findExecutableMember(zip([{ name: "word/embeddings/oleObject1.bin", data: "x" }])),
    ).toBeUndefined();
  });
});

describe("ExecutableScanner", () => {
  const bigPdf = pdf(3 * MiB);

  it.each([
    ["a PDF with an ELF appended", Buffer.concat([bigPdf, elf()]), "pdf", "elf"],
    [
      "a PDF with a PE right after its header",
      Buffer.concat([pdf(100), pe(), randomBytes(MiB)]),
      "pdf",
      "pe",
    ],
    ["text followed by an ELF", Buffer.concat([Buffer.from("hello\n"), elf()]), "txt", "elf"],
    ["a PNG with a Mach-O appended", Buffer.concat([png(MiB), machO()]), "png", "macho"],
    [
      "a docx with a stored ELF member",
      zip([...docxMembers(), { name: "word/media/image2.png", data: elf(), stored: true }]),
      "docx",
      "elf",
    ],
    [
      "a docx with a deflated member named .exe",
      zip([...docxMembers(), { name: "word/setup.exe", data: randomBytes(1000) }]),
      "docx",
      "zip-member",
    ],
    [
      "a large docx whose central directory names a .dll",
      // The member's own header is in the middle, outside both windows; only the directory names it.
      zip([
        { name: "word/media/big1.png", data: png(MiB), stored: true },
        { name: "word/payload.dll", data: randomBytes(200_000) },
        { name: "word/media/big2.png", data: png(MiB), stored: true },
      ]),
      "docx",
      "zip-member",
    ],
    ["a .txt that is a shell script", Buffer.from("#!/bin/sh\nrm -rf ~\n"), "txt", "script"],
    ["a .json that starts with a shebang", Buffer.from("#! /usr/bin/env node\n{}"), "json", "script"],
  ])("refuses %s", (_label, data, extension, detected) => {
    const refusal = scan(data, extension);
    expect(refusal).toMatchObject({ code: "UNSUPPORTED_TYPE", details: { field: "content", detected } });
    expect(refusal?.message).toContain(`.${extension}`);
  });

  it.each([
    ["an ordinary PDF", bigPdf, "pdf"],
    ["a small PDF", pdf(10), "pdf"],
    ["a PNG", png(MiB), "png"],
    ["text", Buffer.from("#include <stdio.h>\nMZ PE ELF\n".repeat(10_000)), "txt"],
    ["a docx-like zip", zip(docxMembers(200_000)), "docx"],
    ["an empty file", Buffer.alloc(0), "txt"],
    ["a Java class inside a document", Buffer.concat([pdf(100), javaClass()]), "pdf"],
  ])("accepts %s", (_label, data, extension) => {
    expect(scan(data, extension)).toBeUndefined();
  });

  it("refuses in the head as soon as the head window is full, before the rest arrives", () => {
    const scanner = new ExecutableScanner("pdf");
    const head = Buffer.concat([pdf(10), elf(), randomBytes(SCAN_WINDOW_BYTES)]);
    expect(scanner.update(head)).toMatchObject({ code: "UNSUPPORTED_TYPE" });
  });

  it("finds a tail executable whatever the chunking (ring buffer wrap-around)", () => {
    const window = 1024;
    const data = Buffer.concat([randomBytes(10_000), elf(300)]);
    for (const chunk of [1, 7, 100, 333, 1000, 1024, 1025, 4096, data.length]) {
      expect(scan(data, "pdf", chunk, window), `chunk ${chunk}`).toMatchObject({
        details: { detected: "elf" },
      });
    }
    // Only the last `window` bytes are searched: an ELF that ends just before them is not seen.
    const before = Buffer.concat([randomBytes(5000), elf(300), randomBytes(window)]);
    expect(scan(before, "pdf", 333, window)).toBeUndefined();
  });

  it("does not search the middle of a large file (documented limit)", () => {
    const middle = Buffer.concat([pdf(MiB), elf(), randomBytes(MiB)]);
    expect(scan(middle, "pdf")).toBeUndefined();
  });

  it("accepts 5 MiB of random bytes while holding only its two windows", () => {
    const scanner = new ExecutableScanner("bin");
    for (let i = 0; i < 5 * 16; i++) {
      expect(scanner.update(randomBytes(64 * 1024))).toBeUndefined();
      expect(scanner.retainedBytes).toBe(2 * SCAN_WINDOW_BYTES);
    }
    expect(scanner.finish()).toBeUndefined();
    expect(scanner.retainedBytes).toBe(2 * SCAN_WINDOW_BYTES);
  });

  it("leaves alone the names that hold executables by design", () => {
    for (const extension of ["zip", "jar", "tar", "gz", "exe", "so", "sh", "py"]) {
      expect(executableScannerFor(extension), extension).toBeUndefined();
    }
    for (const extension of ["pdf", "docx", "txt", "json", "png", "pkl", "h5", "bin", ""]) {
      expect(executableScannerFor(extension), extension).toBeInstanceOf(ExecutableScanner);
    }
  });
});

describe("IngestGuard with a scanner", () => {
  it("fails the stream at its end, so the sink never sees a clean finish", async () => {
    let finished = false;
    let received = 0;
    const sink = new Writable({
      write(chunk: Buffer, _enc, cb) {
        received += chunk.length;
        cb();
      },
      final(cb) {
        finished = true;
        cb();
      },
    });
    const data = Buffer.concat([pdf(2 * MiB), elf()]);
    const guard = new IngestGuard({ maxBytes: 10 * MiB }, new ExecutableScanner("pdf"));
    await expect(
      pipeline(Readable.from([data.subarray(0, MiB), data.subarray(MiB)]), guard, sink),
    ).rejects.toMatchObject({
      code: "UNSUPPORTED_TYPE",
    });
    expect(finished).toBe(false);
    expect(received).toBe(data.length); // every byte went through: the refusal came at end-of-stream
  });

  it("passes benign content through unchanged", async () => {
    const data = zip(docxMembers(100_000));
    const out: Buffer[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _enc, cb) {
        out.push(chunk);
        cb();
      },
    });
    const guard = new IngestGuard({ maxBytes: 10 * MiB }, new ExecutableScanner("docx"));
    await pipeline(Readable.from([data]), guard, sink);
    expect(Buffer.concat(out).equals(data)).toBe(true);
  });
});
