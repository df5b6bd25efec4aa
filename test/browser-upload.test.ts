import { mkdtemp, rm } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type BrowserContext, chromium } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { collect } from "./support/data.ts";
import { type HttpHarness, json, jsonPost, startHttp } from "./support/http.ts";

/** Debian's chromium package (CI installs it: `apt-get install -y chromium`). */
const CHROMIUM = "/usr/bin/chromium";
const ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

interface PostPolicy {
  url: string;
  fields: Record<string, string>;
}

const escapeHtml = (text: string) => text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/** The page a web app would render: the policy's fields as hidden inputs, the file input last. */
function uploadPage(policy: PostPolicy): string {
  const hidden = Object.entries(policy.fields)
    .map(([name, value]) => `<input type="hidden" name="${escapeHtml(name)}" value="${escapeHtml(value)}">`)
    .join("\n      ");
  return `<!doctype html>
<html>
  <head><meta charset="utf-8"><title>upload</title></head>
  <body>
    <form method="post" action="${escapeHtml(policy.url)}" enctype="multipart/form-data">
      ${hidden}
      <input type="file" name="file">
      <button type="submit">Upload</button>
    </form>
  </body>
</html>`;
}

/** Headless Chromium uploads a file with a presigned POST policy straight to MinIO; the service reads it back. */
describe("browser upload through a presigned POST", () => {
  let h: HttpHarness;
  let page: Server;
  let profile: string;
  let browser: BrowserContext | undefined;

  beforeAll(async () => {
    h = await startHttp("minio");
    profile = await mkdtemp(join(tmpdir(), "lumenslate-chromium-"));
  });
  afterAll(async () => {
    await browser?.close();
    await new Promise((resolve) => (page ? page.close(resolve) : resolve(undefined)));
    await rm(profile, { recursive: true, force: true });
    await h?.close();
  });

  it("posts a file chosen in a real form to MinIO and the service serves the same bytes", async () => {
    const bucket = h.app.config.buckets.temp;
    const key = "browser/from-chromium.txt";
    const content = "uploaded by headless Chromium\n";
    const res = await h.fetch(
      `${h.base}/v1/presign-post`,
      jsonPost({ bucket, key, contentType: "text/plain", maxSize: 1024 * 1024, expiresInSeconds: 300 }),
    );
    expect(res.status).toBe(200);
    const policy = await json<PostPolicy>(res);

    const html = uploadPage(policy);
    page = createServer((_req, reply) =>
      reply.writeHead(200, { "content-type": "text/html; charset=utf-8" }).end(html),
    );
    await new Promise<void>((resolve) => page.listen(0, "127.0.0.1", resolve));
    const pageUrl = `http://127.0.0.1:${(page.address() as AddressInfo).port}/`;

    // A persistent context is how Playwright takes a user-data-dir: a fresh one per run.
    browser = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      args: ARGS,
    });
    const tab = await browser.newPage();
    await tab.goto(pageUrl);
    await tab.setInputFiles("input[type=file]", {
      name: "from-chromium.txt",
      mimeType: "text/plain",
      buffer: Buffer.from(content),
    });
    const [upload] = await Promise.all([
      tab.waitForResponse((r) => r.url().startsWith(policy.url) && r.request().method() === "POST"),
      tab.click("button[type=submit]"),
    ]);
    expect(upload.status()).toBe(204);

    const info = await h.app.service.stat(bucket, key);
    expect(info).toMatchObject({ size: content.length, contentType: "text/plain" });
    const download = await h.app.service.download(bucket, key);
    expect((await collect(download.body)).toString()).toBe(content);
  });
});
