import { Readable } from "node:stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { UploadRequest } from "../src/core/types.ts";
import type { TestApp } from "./support/app.ts";
import { createTestApp } from "./support/app.ts";
import { bufferStream, uploadableBytes } from "./support/data.ts";

const MiB = 1024 * 1024;
const PDF = Buffer.from("%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog >>\nendobj\n", "latin1");
const PNG = Buffer.concat([
  Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13]),
  Buffer.from("IHDR"),
  Buffer.alloc(64),
]);
const ELF = Buffer.concat([Buffer.from([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1]), Buffer.alloc(128)]);
const EXE = Buffer.concat([Buffer.from("MZ"), Buffer.alloc(256)]);

type Case = [label: string, request: Partial<UploadRequest> & { data?: Buffer | string }, code: string];

const hostileKeys: [string, string][] = [
  ["empty key", ""],
  ["leading slash", "/etc/passwd"],
  ["parent segment", "../escape.txt"],
  ["inner parent segment", "a/../../b.txt"],
  ["trailing parent segment", "a/.."],
  ["dot segment", "a/./b.txt"],
  ["lone dot", "."],
  ["lone dot-dot", ".."],
  ["backslash", "a\\b.txt"],
  ["windows traversal", "..\\..\\win.ini"],
  ["NUL byte", "nul\u0000byte.txt"],
  ["tab", "tab\tkey.txt"],
  ["newline", "new\nline.txt"],
  ["carriage return", "cr\rkey.txt"],
  ["escape sequence", "esc\u001b[31m.txt"],
  ["DEL", "del\u007f.txt"],
  ["C1 control", "c1\u0085.txt"],
  ["empty segment", "a//b.txt"],
  ["1025 ASCII bytes", `${"k".repeat(1021)}.txt`],
  ["1026 UTF-8 bytes", `${"é".repeat(511)}.txt`],
  ["lone surrogate", "bad\ud800.txt"],
  ["right-to-left override", "invoice\u202Efdp.exe"],
  ["right-to-left isolate", "a\u2067b.txt"],
  ["zero-width space", "admin\u200B.txt"],
  ["zero-width joiner", "a\u200Db.txt"],
  ["byte order mark", "\uFEFFbom.txt"],
  ["Arabic letter mark", "a\u061Cb.txt"],
];

const hostileBuckets: [string, string][] = [
  ["empty bucket", ""],
  ["too short", "ab"],
  ["too long", "b".repeat(64)],
  ["uppercase", "User-Data"],
  ["underscore", "user_data"],
  ["leading dash", "-bucket"],
  ["trailing dash", "bucket-"],
  ["double dot", "a..b"],
  ["IP address", "192.168.1.10"],
  ["reserved prefix", "xn--bucket"],
  ["slash", "user/data"],
  ["space", "user data"],
  ["traversal", "../etc"],
];

/**
 * Hostile input across every entry of the core: each is refused with its typed error code, and
 * after each one the bucket, the index and the multipart uploads are exactly as they were.
 */
describe("bad input is refused with a typed error and writes nothing", () => {
  let app: TestApp;
  let userData: string;
  let temp: string;

  beforeAll(async () => {
    app = await createTestApp("minio", { STORAGE_MAX_FILE_SIZE: "20MiB" });
    userData = app.config.buckets.userData;
    temp = app.config.buckets.temp;
    await app.service.upload({ bucket: userData, key: "existing.txt", body: bufferStream("keep me") });
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
    return state;
  }

  async function expectRefused(run: () => Promise<unknown>, code: string) {
    const before = await snapshot();
    const error = await run().then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(error, "expected the call to be refused").toMatchObject({ name: "StorageError", code });
    expect(String((error as Error).message)).not.toMatch(/minio|secret|stack|at \//i);
    expect(await snapshot()).toEqual(before);
  }

  const upload = (request: Partial<UploadRequest> & { data?: Buffer | string }) => () =>
    app.service.upload({
      bucket: request.bucket ?? temp,
      key: request.key ?? "file.txt",
      body: request.body ?? bufferStream(request.data ?? "hello"),
      ...(request.contentType ? { contentType: request.contentType } : {}),
      ...(request.metadata ? { metadata: request.metadata } : {}),
      ...(request.expectedSize !== undefined ? { expectedSize: request.expectedSize } : {}),
      ...(request.expectedSha256 !== undefined ? { expectedSha256: request.expectedSha256 } : {}),
    });

  it.each(hostileKeys)("key: %s", async (_label, key) => {
    await expectRefused(upload({ key }), "INVALID_ARGUMENT");
    await expectRefused(() => app.service.stat(temp, key), "INVALID_ARGUMENT");
  });

  it.each(hostileBuckets)("bucket: %s", async (_label, bucket) => {
    await expectRefused(upload({ bucket }), "INVALID_ARGUMENT");
    await expectRefused(() => app.service.list(bucket), "INVALID_ARGUMENT");
  });

  const cases: Case[] = [
    [
      "a .pdf that is not a PDF",
      { bucket: "USER", key: "report.pdf", data: "just text" },
      "UNSUPPORTED_TYPE",
    ],
    ["a .docx that is a PNG", { bucket: "USER", key: "cv.docx", data: PNG }, "UNSUPPORTED_TYPE"],
    ["a .txt that is a PDF", { bucket: "USER", key: "notes.txt", data: PDF }, "UNSUPPORTED_TYPE"],
    ["a .json that is an ELF binary", { bucket: "USER", key: "conf.json", data: ELF }, "UNSUPPORTED_TYPE"],
    [
      "a .pkl that is a Windows executable",
      { bucket: "USER", key: "model.pkl", data: EXE },
      "UNSUPPORTED_TYPE",
    ],
    ["an executable with no extension", { key: "run-me", data: ELF }, "UNSUPPORTED_TYPE"],
    [
      "a declared image/png that is a PDF",
      { key: "pic.bin", data: PDF, contentType: "image/png" },
      "UNSUPPORTED_TYPE",
    ],
    ["an .exe in user-data", { bucket: "USER", key: "setup.exe", data: EXE }, "UNSUPPORTED_TYPE"],
    [
      "an .html in user-data",
      { bucket: "USER", key: "page.html", data: "<html></html>" },
      "UNSUPPORTED_TYPE",
    ],
    ["no extension in user-data", { bucket: "USER", key: "README", data: "text" }, "UNSUPPORTED_TYPE"],
    ["a bad metadata name", { metadata: { "bad name": "x" } }, "INVALID_ARGUMENT"],
    ["a non-ASCII metadata value", { metadata: { note: "naïve" } }, "INVALID_ARGUMENT"],
    ["metadata over 2 KiB", { metadata: { big: "x".repeat(2100) } }, "INVALID_ARGUMENT"],
    ["a negative announced size", { expectedSize: -1 }, "INVALID_ARGUMENT"],
    ["an announced size over the limit", { expectedSize: 21 * MiB }, "TOO_LARGE"],
    ["a body longer than announced", { data: "hello world", expectedSize: 5 }, "PRECONDITION_FAILED"],
    ["a body shorter than announced", { data: "hi", expectedSize: 5 }, "PRECONDITION_FAILED"],
    ["a malformed sha256", { expectedSha256: "abc" }, "INVALID_ARGUMENT"],
    ["a wrong sha256", { expectedSha256: "f".repeat(64) }, "PRECONDITION_FAILED"],
    ["a missing bucket", { bucket: "no-such-bucket-lumenslate" }, "NOT_FOUND"],
  ];

  it.each(cases)("upload: %s", async (_label, request, code) => {
    const bucket = request.bucket === "USER" ? userData : request.bucket;
    await expectRefused(upload({ ...request, ...(bucket ? { bucket } : {}) }), code);
  });

  it("a stream over the size limit is cut off while streaming (multipart parts aborted)", async () => {
    let read = 0;
    const body = new Readable({
      read() {
        read += MiB;
        this.push(read > 40 * MiB ? null : uploadableBytes(MiB));
      },
    });
    await expectRefused(upload({ key: "huge.bin", body }), "TOO_LARGE");
    // Refused as soon as the limit was crossed, not after reading everything.
    expect(read).toBeLessThan(40 * MiB);
  });

  it("overwriting with refused content keeps the previous object intact", async () => {
    await expectRefused(
      upload({ bucket: userData, key: "existing.txt", data: "new", expectedSha256: "0".repeat(64) }),
      "PRECONDITION_FAILED",
    );
    const stat = await app.service.stat(userData, "existing.txt");
    expect(stat.size).toBe(7);
  });

  it.each([
    ["negative range start", { start: -1 }],
    ["range end before start", { start: 5, end: 2 }],
    ["range past the end", { start: 100 }],
  ])("download: %s", async (_label, range) => {
    await expectRefused(
      () => app.service.download(userData, "existing.txt", { range }),
      "RANGE_NOT_SATISFIABLE",
    );
  });

  it.each([
    ["zero expiry", 0],
    ["expiry over the maximum", 10 ** 7],
    ["fractional expiry", 1.5],
  ])("presign: %s", async (_label, expiresInSeconds) => {
    await expectRefused(
      () => app.service.presign(userData, "existing.txt", { method: "GET", expiresInSeconds }),
      "INVALID_ARGUMENT",
    );
  });

  it.each([
    ["page size 0", { limit: 0 }],
    ["page size over 1000", { limit: 1001 }],
    ["forged cursor", { cursor: "not a cursor!" }],
    ["traversal prefix", { prefix: "../" }],
    ["bidi override in prefix", { prefix: "docs/\u202E" }],
    ["zero-width space in prefix", { prefix: "docs\u200B/" }],
  ])("list: %s", async (_label, request) => {
    await expectRefused(() => app.service.list(userData, request), "INVALID_ARGUMENT");
  });

  it.each([
    ["traversal prefix", "../"],
    ["bidi override in prefix", "\u202E"],
    ["zero-width space in prefix", "existing\u200B"],
  ])("delete by prefix: %s", async (_label, prefix) => {
    await expectRefused(() => app.service.deleteByPrefix(userData, prefix), "INVALID_ARGUMENT");
  });

  it("missing objects and versions answer NOT_FOUND", async () => {
    await expectRefused(() => app.service.stat(userData, "nope.txt"), "NOT_FOUND");
    await expectRefused(() => app.service.download(userData, "nope.txt"), "NOT_FOUND");
    await expectRefused(() => app.service.delete(userData, "nope.txt"), "NOT_FOUND");
    await expectRefused(
      () => app.service.copy({ bucket: userData, key: "nope.txt" }, { bucket: temp, key: "x.txt" }),
      "NOT_FOUND",
    );
  });

  it("copy refuses a hostile target key and a disallowed target extension", async () => {
    await expectRefused(
      () => app.service.copy({ bucket: userData, key: "existing.txt" }, { bucket: temp, key: "../x" }),
      "INVALID_ARGUMENT",
    );
    await expectRefused(
      () => app.service.copy({ bucket: userData, key: "existing.txt" }, { bucket: userData, key: "x.exe" }),
      "UNSUPPORTED_TYPE",
    );
  });
});
