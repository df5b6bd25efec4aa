import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadTlsMaterial } from "./tls.ts";

const PEM = "-----BEGIN CERTIFICATE-----\nMA==\n-----END CERTIFICATE-----\n";

describe("loadTlsMaterial", () => {
  let dir: string;
  let pem: string;
  let notPem: string;
  let missing: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "tls-unit-"));
    pem = join(dir, "ok.pem");
    notPem = join(dir, "plain.txt");
    missing = join(dir, "missing.pem");
    await writeFile(pem, PEM);
    await writeFile(notPem, "not a certificate");
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  const tls = (certFile?: string, keyFile?: string, clientCaFile?: string) => ({
    certFile,
    keyFile,
    clientCaFile,
    grpcRequireClientCert: false,
  });

  it("is plain text when no certificate is configured", async () => {
    expect(await loadTlsMaterial(tls())).toBeUndefined();
  });

  it("names the first unreadable file, in a fixed order, every time", async () => {
    for (let i = 0; i < 20; i++) {
      await expect(loadTlsMaterial(tls(missing, missing, missing))).rejects.toThrow(
        /^Invalid configuration: TLS_CERT_FILE \(.*missing\.pem\) cannot be read \(ENOENT\)$/,
      );
    }
    await expect(loadTlsMaterial(tls(pem, missing))).rejects.toThrow(/TLS_KEY_FILE .* cannot be read/);
    await expect(loadTlsMaterial(tls(pem, pem, missing))).rejects.toThrow(
      /TLS_CLIENT_CA_FILE .* cannot be read/,
    );
  });

  it("refuses a file that is not PEM without echoing its contents", async () => {
    const err = await loadTlsMaterial(tls(pem, notPem)).catch((e: Error) => e);
    expect(err).toBeInstanceOf(Error);
    expect((err as Error).message).toMatch(/TLS_KEY_FILE .* is not a PEM file/);
    expect((err as Error).message).not.toContain("not a certificate");
  });

  it("returns the files' bytes and the client-certificate rule", async () => {
    const material = await loadTlsMaterial({ ...tls(pem, pem, pem), grpcRequireClientCert: true });
    expect(material?.cert.toString()).toBe(PEM);
    expect(material?.clientCa?.toString()).toBe(PEM);
    expect(material?.requireClientCert).toBe(true);
  });
});
