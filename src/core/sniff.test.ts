import { describe, expect, it } from "vitest";
import { sniffContent } from "./sniff.ts";

const PDF = Buffer.from("%PDF-1.7\n1 0 obj\n");
const PNG = Buffer.concat([
  Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13]),
  Buffer.from("IHDR"),
  Buffer.alloc(32),
]);
const ELF = Buffer.concat([Buffer.from([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1]), Buffer.alloc(64)]);
const ZIP = Buffer.concat([Buffer.from([0x50, 0x4b, 3, 4]), Buffer.alloc(64)]);
const text = (s: string) => Buffer.from(s);

describe("sniffContent", () => {
  it("detects the type of recognisable content", async () => {
    expect(await sniffContent({ head: PDF, extension: "pdf" })).toBe("application/pdf");
    expect(await sniffContent({ head: PNG, extension: "png" })).toBe("image/png");
  });

  it("falls back to the extension, then to octet-stream", async () => {
    expect(await sniffContent({ head: text("{}"), extension: "json" })).toBe("application/json");
    expect(await sniffContent({ head: text("random"), extension: "bin" })).toBe("application/octet-stream");
    expect(await sniffContent({ head: Buffer.alloc(0), extension: "txt" })).toBe("text/plain; charset=utf-8");
  });

  it("keeps a declared type that the content does not contradict", async () => {
    expect(await sniffContent({ head: text("a,b"), extension: "csv", declaredType: "text/csv" })).toBe(
      "text/csv",
    );
    expect(await sniffContent({ head: PDF, extension: "pdf", declaredType: "application/pdf" })).toBe(
      "application/pdf",
    );
  });

  it.each([
    ["a .pdf holding text", { head: text("hello"), extension: "pdf" }],
    ["a .png holding a PDF", { head: PDF, extension: "png" }],
    ["a .txt holding a PNG", { head: PNG, extension: "txt" }],
    ["a .yaml holding an ELF", { head: ELF, extension: "yaml" }],
    ["an ELF with no extension", { head: ELF, extension: "" }],
    ["an ELF named .bin", { head: ELF, extension: "bin" }],
    ["a PDF declared as image/png", { head: PDF, extension: "bin", declaredType: "image/png" }],
    ["a PNG declared as text/plain", { head: PNG, extension: "", declaredType: "text/plain" }],
  ])("refuses %s", async (_label, input) => {
    await expect(sniffContent(input)).rejects.toMatchObject({ code: "UNSUPPORTED_TYPE" });
  });

  it("accepts containers under the names that share them", async () => {
    expect(await sniffContent({ head: ZIP, extension: "docx" })).toBe("application/zip");
    expect(await sniffContent({ head: ZIP, extension: "pt" })).toBe("application/zip");
  });
});
