import { request as httpsRequest } from "node:https";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type HttpHarness, startHttp } from "./support/http.ts";
import { createTestCa, type TestCa } from "./support/tls.ts";

/** A GET over HTTPS trusting only `ca`: the status and body, or the TLS error's code. */
function httpsGet(
  url: string,
  ca: Buffer | undefined,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: string } | { error: string }> {
  return new Promise((resolve) => {
    const req = httpsRequest(url, { ca, headers, timeout: 5_000 }, (res) => {
      let body = "";
      res.setEncoding("utf8").on("data", (chunk: string) => {
        body += chunk;
      });
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.once("timeout", () => req.destroy(new Error("timed out")));
    req.once("error", (err: NodeJS.ErrnoException) => resolve({ error: err.code ?? err.message }));
    req.end();
  });
}

/** The HTTP server on TLS with a certificate from a CA made by openssl at test time. */
describe("HTTP API over TLS", () => {
  let ca: TestCa;
  let stranger: TestCa;
  let h: HttpHarness;

  beforeAll(async () => {
    [ca, stranger] = await Promise.all([createTestCa(), createTestCa()]);
    const cert = await ca.issue("http-server");
    h = await startHttp("local", { TLS_CERT_FILE: cert.certFile, TLS_KEY_FILE: cert.keyFile });
  });
  afterAll(async () => {
    await h?.close();
    await Promise.all([ca?.dispose(), stranger?.dispose()]);
  });

  it("serves HTTPS to a client that trusts the CA, with API keys as usual", async () => {
    expect(h.base).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    expect(await httpsGet(`${h.base}/healthz`, ca.ca)).toEqual({ status: 200, body: '{"status":"ok"}' });
    const list = `${h.base}/v1/buckets/${h.app.config.buckets.temp}/objects`;
    expect(await httpsGet(list, ca.ca, { authorization: `Bearer ${h.token}` })).toMatchObject({
      status: 200,
    });
    expect(await httpsGet(list, ca.ca)).toMatchObject({ status: 401 });
  });

  it("is unreachable without the right CA, and for plain HTTP", async () => {
    // fetch trusts only the system CAs.
    const viaFetch = await fetch(`${h.base}/healthz`).then(
      (res) => `status ${res.status}`,
      (err: Error & { cause?: { code?: string } }) => err.cause?.code ?? err.message,
    );
    expect(viaFetch).toMatch(/CERT|SELF_SIGNED|VERIFY/);
    const other = await httpsGet(`${h.base}/healthz`, stranger.ca);
    expect(other).toEqual({ error: expect.stringMatching(/CERT|SELF_SIGNED|VERIFY/) });
    const plain = await fetch(`${h.base.replace("https:", "http:")}/healthz`).then(
      (res) => res.status,
      () => "refused",
    );
    expect(plain).not.toBe(200);
  });

  it("stops start-up with a clear error when a TLS file cannot be read", async () => {
    const missing = join(ca.dir, "missing.pem");
    await expect(startHttp("local", { TLS_CERT_FILE: missing, TLS_KEY_FILE: missing })).rejects.toThrow(
      /TLS_CERT_FILE .* cannot be read/,
    );
  });
});
