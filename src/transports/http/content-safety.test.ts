import type { FastifyReply } from "fastify";
import { describe, expect, it } from "vitest";
import { applyContentSafety, isActiveContentType, OBJECT_CSP } from "./content-safety.ts";

describe("isActiveContentType", () => {
  it.each([
    "text/html",
    "TEXT/HTML; charset=utf-8",
    " text/html ;charset=utf-8",
    "application/xhtml+xml",
    "image/svg+xml",
    "Image/SVG+XML; charset=UTF-8",
    "text/xml",
    "application/xml",
    "application/rss+xml",
    "application/xslt+xml",
    "text/xsl",
    "text/javascript",
    "application/javascript",
    "application/x-javascript",
    "text/ecmascript",
    "application/ecmascript",
    "text/jscript",
    "text/javascript1.5",
    "text/vbscript",
    "application/x-shockwave-flash",
    "multipart/x-mixed-replace; boundary=x",
    "unknown/unknown",
    "*/*",
    "",
    "html",
    "text/html garbage",
    "text/",
    "/html",
    "text/html/x",
  ])("%j is active", (type) => {
    expect(isActiveContentType(type)).toBe(true);
  });

  it.each([
    "image/png",
    "image/jpeg",
    "text/plain; charset=utf-8",
    "text/css",
    "text/csv",
    "application/json",
    "application/pdf",
    "application/postscript",
    "application/octet-stream",
    "application/x-ndjson",
    "video/mp4",
  ])("%j is passive", (type) => {
    expect(isActiveContentType(type)).toBe(false);
  });

  it("treats a missing type as active", () => {
    expect(isActiveContentType(undefined)).toBe(true);
  });
});

/** Just enough of a reply to record the headers set on it. */
function recordingReply() {
  const headers: Record<string, string> = {};
  const reply = {
    header(name: string, value: string) {
      headers[name] = value;
      return reply;
    },
  };
  return { reply: reply as unknown as FastifyReply, headers };
}

describe("applyContentSafety", () => {
  const html = { key: "site/index.html", contentType: "text/html; charset=utf-8" };
  const png = { key: "img/a.png", contentType: "image/png" };

  it("always sends nosniff and the sandboxing CSP", () => {
    const { reply, headers } = recordingReply();
    applyContentSafety(reply, png, undefined, false);
    expect(headers).toEqual({ "x-content-type-options": "nosniff", "content-security-policy": OBJECT_CSP });
    expect(OBJECT_CSP).toMatch(/(^|; )sandbox(;|$)/);
    expect(OBJECT_CSP).toContain("default-src 'none'");
  });

  it("makes an active type an attachment named after its key", () => {
    const { reply, headers } = recordingReply();
    applyContentSafety(reply, html, undefined, false);
    expect(headers["content-disposition"]).toBe(
      `attachment; filename="index.html"; filename*=UTF-8''index.html`,
    );
  });

  it("keeps the caller's download name, as an attachment, for active and passive types", () => {
    for (const object of [html, png]) {
      const { reply, headers } = recordingReply();
      applyContentSafety(reply, object, "report.htm", false);
      expect(headers["content-disposition"]).toMatch(/^attachment; filename="report.htm"/);
    }
  });

  it("serves an active type inline in an opted-in bucket, still sandboxed", () => {
    const { reply, headers } = recordingReply();
    applyContentSafety(reply, html, undefined, true);
    expect(headers).toEqual({ "x-content-type-options": "nosniff", "content-security-policy": OBJECT_CSP });
  });
});
