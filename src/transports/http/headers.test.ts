import { describe, expect, it } from "vitest";
import { baseName, contentDisposition, metadataFromHeaders, objectHeaders, objectPath } from "./headers.ts";

describe("metadataFromHeaders", () => {
  it("takes x-meta-* headers as metadata", () => {
    expect(
      metadataFromHeaders({ "x-meta-origin": "cli", "x-meta-tags": ["a", "b"], "content-type": "x" }),
    ).toEqual({
      origin: "cli",
      tags: "a, b",
    });
  });
});

describe("objectHeaders", () => {
  it("describes an object and leaves out metadata a header cannot carry", () => {
    const headers = objectHeaders({
      bucket: "b",
      key: "k",
      versionId: "v1",
      size: 3,
      etag: "abc",
      sha256: "f".repeat(64),
      contentType: "text/plain",
      metadata: { ok: "yes", bad: "caf\u00e9" },
      lastModified: new Date("2026-01-02T03:04:05Z"),
    });
    expect(headers).toEqual({
      etag: '"abc"',
      "last-modified": "Fri, 02 Jan 2026 03:04:05 GMT",
      "x-version-id": "v1",
      "x-checksum-sha256": "f".repeat(64),
      "x-meta-ok": "yes",
    });
  });
});

describe("contentDisposition", () => {
  it("gives an ASCII fallback and the exact name as RFC 5987 UTF-8", () => {
    expect(contentDisposition("report.pdf")).toBe(
      `attachment; filename="report.pdf"; filename*=UTF-8''report.pdf`,
    );
    expect(contentDisposition('naïve "quote"\\ 100%.txt')).toBe(
      `attachment; filename="na_ve _quote__ 100_.txt"; filename*=UTF-8''na%C3%AFve%20%22quote%22%5C%20100%25.txt`,
    );
    expect(contentDisposition("it's (1)*.txt")).toBe(
      `attachment; filename="it's (1)*.txt"; filename*=UTF-8''it%27s%20%281%29%2A.txt`,
    );
    expect(contentDisposition("a\r\nb")).not.toMatch(/[\r\n]/);
  });
});

describe("paths", () => {
  it("takes the last key segment and encodes each segment of an object path", () => {
    expect(baseName("a/b/c.txt")).toBe("c.txt");
    expect(baseName("c.txt")).toBe("c.txt");
    expect(objectPath("b", "a b/ü?.txt")).toBe("/v1/buckets/b/objects/a%20b/%C3%BC%3F.txt");
  });
});
