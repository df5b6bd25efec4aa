import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type HttpHarness, startHttp } from "./support/http.ts";

const PNG = Buffer.concat([
  Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13]),
  Buffer.from("IHDR"),
  Buffer.alloc(64),
]);

/** Uploads a browser would run as a page or a script if it opened their URL inline. */
const ACTIVE: [label: string, key: string, type: string, body: string][] = [
  ["HTML", "page.html", "text/html", "<!doctype html><html><script>alert(document.cookie)</script></html>"],
  [
    "SVG with script",
    "logo.svg",
    "image/svg+xml",
    '<svg xmlns="http://www.w3.org/2000/svg"><script>alert(document.cookie)</script></svg>',
  ],
  [
    "HTML in upper case with a charset",
    "shout.html",
    "TEXT/HTML; charset=UTF-8",
    "<html><body>hi</body></html>",
  ],
  ["JavaScript", "app.js", "text/javascript", "alert(document.cookie);\n"],
  ["XML", "feed.xml", "application/xml", '<?xml version="1.0"?><feed/>'],
];

/** The headers every object response carries, whatever its type or bucket. */
function expectSandboxed(res: Response) {
  expect(res.headers.get("x-content-type-options")).toBe("nosniff");
  const csp = res.headers.get("content-security-policy") ?? "";
  expect(csp.split(";").map((d) => d.trim())).toEqual(
    expect.arrayContaining(["sandbox", "default-src 'none'"]),
  );
}

/**
 * Objects are served from the API's own origin with the type their uploader declared, so opening
 * an uploaded HTML page or SVG in a browser must not run it: every object response has nosniff and
 * a sandboxing CSP, and active types are attachments unless their bucket opts in.
 */
describe.each(["local", "minio"] as const)(
  "HTTP API (%s): object downloads are safe to open in a browser",
  (backend) => {
    let h: HttpHarness;
    let temp: string;
    let inline: string;

    beforeAll(async () => {
      h = await startHttp(backend, { HTTP_INLINE_ACTIVE_CONTENT_BUCKETS: "config" });
      temp = h.app.config.buckets.temp;
      inline = h.app.config.buckets.config;
      expect(h.app.config.http.inlineActiveContentBuckets).toEqual([inline]);
    });
    afterAll(async () => {
      await h?.close();
    });

    async function put(bucket: string, key: string, type: string, body: string | Buffer) {
      const res = await h.fetch(h.objectUrl(bucket, key), {
        method: "PUT",
        headers: { "content-type": type },
        body,
      });
      expect(res.status, await res.clone().text()).toBeLessThan(300);
    }

    it.each(ACTIVE)("%s is sent as an attachment on GET and HEAD", async (_label, key, type, body) => {
      await put(temp, key, type, body);
      for (const method of ["GET", "HEAD"]) {
        const res = await h.fetch(h.objectUrl(temp, key), { method });
        expect(res.status).toBe(200);
        // The declared type is kept: the attachment is what keeps the browser from rendering it.
        expect(res.headers.get("content-type")?.toLowerCase()).toContain(type.split(";")[0]?.toLowerCase());
        expect(res.headers.get("content-disposition")).toBe(
          `attachment; filename="${key}"; filename*=UTF-8''${key}`,
        );
        expectSandboxed(res);
        if (method === "GET") expect(await res.text()).toBe(body);
      }
    });

    it("a byte range of an HTML object is an attachment too", async () => {
      await put(temp, "range.html", "text/html", "<html><script>alert(1)</script></html>");
      const range = await h.fetch(h.objectUrl(temp, "range.html"), { headers: { range: "bytes=0-5" } });
      expect(range.status).toBe(206);
      expect(await range.text()).toBe("<html>");
      expect(range.headers.get("content-disposition")).toMatch(/^attachment; /);
      expectSandboxed(range);
    });

    it("?download= keeps the caller's file name and is an attachment for any type", async () => {
      await put(temp, "dl/page.html", "text/html", "<html></html>");
      const named = await h.fetch(h.objectUrl(temp, "dl/page.html", { download: "report.html" }));
      expect(named.headers.get("content-disposition")).toBe(
        `attachment; filename="report.html"; filename*=UTF-8''report.html`,
      );
      expectSandboxed(named);
      const unnamed = await h.fetch(h.objectUrl(temp, "dl/page.html", { download: "" }), { method: "HEAD" });
      expect(unnamed.headers.get("content-disposition")).toBe(
        `attachment; filename="page.html"; filename*=UTF-8''page.html`,
      );
    });

    it("a PNG is served inline, with nosniff and the CSP", async () => {
      await put(temp, "pic.png", "image/png", PNG);
      for (const method of ["GET", "HEAD"]) {
        const res = await h.fetch(h.objectUrl(temp, "pic.png"), { method });
        expect(res.status).toBe(200);
        expect(res.headers.get("content-type")).toBe("image/png");
        expect(res.headers.get("content-disposition")).toBeNull();
        expectSandboxed(res);
        if (method === "GET") expect(Buffer.from(await res.arrayBuffer()).equals(PNG)).toBe(true);
      }
    });

    it("a bucket in HTTP_INLINE_ACTIVE_CONTENT_BUCKETS serves HTML and SVG inline, still sandboxed", async () => {
      for (const [, key, type, body] of ACTIVE.slice(0, 2) as typeof ACTIVE) {
        await put(inline, key, type, body);
        for (const method of ["GET", "HEAD"]) {
          const res = await h.fetch(h.objectUrl(inline, key), { method });
          expect(res.status).toBe(200);
          expect(res.headers.get("content-type")).toContain(type);
          expect(res.headers.get("content-disposition")).toBeNull();
          expectSandboxed(res);
        }
      }
      // Asking for a download still gets one.
      const asked = await h.fetch(h.objectUrl(inline, "page.html", { download: "" }));
      expect(asked.headers.get("content-disposition")).toMatch(/^attachment; filename="page.html"/);
      // The same key in a bucket that did not opt in is an attachment.
      await put(temp, "page.html", "text/html", "<html></html>");
      const other = await h.fetch(h.objectUrl(temp, "page.html"), { method: "HEAD" });
      expect(other.headers.get("content-disposition")).toMatch(/^attachment; /);
    });
  },
);
