import { execFile } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { status } from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type ClientTls,
  connect,
  type StorageClient,
  StorageClientError,
} from "../packages/client/src/index.ts";
import { loadTlsMaterial } from "../src/security/index.ts";
import { type GrpcServer, startGrpcServer } from "../src/transports/grpc/server.ts";
import { type GrpcHarness, NO_RETRY, startGrpc } from "./support/grpc.ts";

const run = promisify(execFile);

/**
 * gRPC over TLS with certificates made at test time by `openssl`: a CA, a server certificate for
 * 127.0.0.1 and localhost, a client certificate, and a second CA that nobody trusts. The app's
 * config asks for client certificates (TLS_CLIENT_CA_FILE, GRPC_REQUIRE_CLIENT_CERT=true); a
 * second server on the same app serves TLS without them.
 */

interface Pki {
  dir: string;
  ca: Buffer;
  otherCa: Buffer;
  serverCert: string;
  serverKey: string;
  clientCert: Buffer;
  clientKey: Buffer;
  /** A client certificate signed by the CA nobody trusts. */
  strangerCert: Buffer;
  strangerKey: Buffer;
}

const openssl = (dir: string, args: string[]) => run("openssl", args, { cwd: dir });

async function makeCa(dir: string, name: string): Promise<void> {
  await openssl(dir, [
    ...["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"],
    ...["-keyout", `${name}.key`, "-out", `${name}.crt`, "-days", "1", "-subj", `/CN=${name}`],
    ...["-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign"],
  ]);
}

async function makeLeaf(dir: string, name: string, ca: string, extensions: string): Promise<void> {
  await writeFile(join(dir, `${name}.ext`), extensions);
  await openssl(dir, [
    ...["req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"],
    ...["-keyout", `${name}.key`, "-out", `${name}.csr`, "-subj", `/CN=${name}`],
  ]);
  await openssl(dir, [
    ...["x509", "-req", "-in", `${name}.csr`, "-CA", `${ca}.crt`, "-CAkey", `${ca}.key`, "-CAcreateserial"],
    ...["-out", `${name}.crt`, "-days", "1", "-extfile", `${name}.ext`],
  ]);
}

async function makePki(): Promise<Pki> {
  const dir = await mkdtemp(join(tmpdir(), "lumenslate-grpc-tls-"));
  await makeCa(dir, "ca");
  await makeCa(dir, "other-ca");
  await makeLeaf(
    dir,
    "server",
    "ca",
    "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n",
  );
  await makeLeaf(dir, "client", "ca", "extendedKeyUsage=clientAuth\n");
  await makeLeaf(dir, "stranger", "other-ca", "extendedKeyUsage=clientAuth\n");
  const read = (name: string) => readFile(join(dir, name));
  return {
    dir,
    ca: await read("ca.crt"),
    otherCa: await read("other-ca.crt"),
    serverCert: join(dir, "server.crt"),
    serverKey: join(dir, "server.key"),
    clientCert: await read("client.crt"),
    clientKey: await read("client.key"),
    strangerCert: await read("stranger.crt"),
    strangerKey: await read("stranger.key"),
  };
}

describe("gRPC over TLS", () => {
  let pki: Pki;
  /** Requires client certificates (from the app's config). */
  let h: GrpcHarness;
  /** TLS without client certificates. */
  let plainTls: GrpcServer;
  let bucket: string;
  const clients: StorageClient[] = [];

  beforeAll(async () => {
    pki = await makePki();
    h = await startGrpc({
      env: {
        RATE_LIMIT_ENABLED: "false",
        TLS_CERT_FILE: pki.serverCert,
        TLS_KEY_FILE: pki.serverKey,
        TLS_CLIENT_CA_FILE: join(pki.dir, "ca.crt"),
        GRPC_REQUIRE_CLIENT_CERT: "true",
      },
    });
    plainTls = await startGrpcServer(h.app, {
      host: "127.0.0.1",
      port: 0,
      tls: await loadTlsMaterial({
        certFile: pki.serverCert,
        keyFile: pki.serverKey,
        clientCaFile: undefined,
        grpcRequireClientCert: false,
      }),
    });
    bucket = h.app.config.buckets.temp;
  });
  afterAll(async () => {
    for (const client of clients) client.close();
    await plainTls?.close(1);
    await h?.close();
    if (pki) {
      const serverKey = (await readFile(pki.serverKey, "utf8")).split("\n").filter((l) => l.length > 40);
      h?.logs.expectNoSecrets([...h.secrets, ...serverKey]);
      await rm(pki.dir, { recursive: true, force: true });
    }
  });

  const client = (port: number, options: { tls?: ClientTls; token?: string | null } = {}) => {
    const token = options.token === undefined ? h.adminToken : (options.token ?? undefined);
    const made = connect(`127.0.0.1:${port}`, {
      // The certificate names localhost too; naming it avoids sending an IP address as SNI.
      ...(options.tls ? { tls: { serverName: "localhost", ...options.tls } } : {}),
      ...(token === undefined ? {} : { token }),
      timeoutMs: 10_000,
      retry: NO_RETRY,
    });
    clients.push(made);
    return made;
  };

  /** Stores and reads back an object; resolves with the error code if the call fails. */
  const roundTrip = async (storage: StorageClient, objectName: string): Promise<string> => {
    try {
      await storage.upload(`over tls: ${objectName}`, { bucket, objectName });
      return (await storage.stat({ bucket, objectName })).size > 0 ? "OK" : "EMPTY";
    } catch (err) {
      if (err instanceof StorageClientError) return `${err.code}/${status[err.grpcCode]}`;
      throw err;
    }
  };

  it("reports its TLS settings", () => {
    expect(h.server.tls).toEqual({ enabled: true, requireClientCert: true });
    expect(plainTls.tls).toEqual({ enabled: true, requireClientCert: false });
  });

  it("serves a client that trusts the CA, and nobody else", async () => {
    expect(await roundTrip(client(plainTls.port, { tls: { ca: pki.ca } }), "tls/ok.txt")).toBe("OK");
    expect(await roundTrip(client(plainTls.port, { tls: { ca: pki.otherCa } }), "tls/wrong-ca.txt")).toBe(
      "UNAVAILABLE/UNAVAILABLE",
    );
    expect(await roundTrip(client(plainTls.port), "tls/plaintext.txt")).toBe("UNAVAILABLE/UNAVAILABLE");
    // TLS does not replace the API key.
    expect(await roundTrip(client(plainTls.port, { tls: { ca: pki.ca }, token: null }), "tls/anon.txt")).toBe(
      "UNAUTHENTICATED/UNAUTHENTICATED",
    );
    await expect(h.app.service.stat(bucket, "tls/wrong-ca.txt")).rejects.toMatchObject({ code: "NOT_FOUND" });
  });

  it("requires a client certificate signed by the client CA when configured", async () => {
    const withCert = { ca: pki.ca, cert: pki.clientCert, key: pki.clientKey };
    expect(await roundTrip(client(h.server.port, { tls: withCert }), "mtls/ok.txt")).toBe("OK");
    expect(await roundTrip(client(h.server.port, { tls: { ca: pki.ca } }), "mtls/no-cert.txt")).toBe(
      "UNAVAILABLE/UNAVAILABLE",
    );
    const stranger = { ca: pki.ca, cert: pki.strangerCert, key: pki.strangerKey };
    expect(await roundTrip(client(h.server.port, { tls: stranger }), "mtls/stranger.txt")).toBe(
      "UNAVAILABLE/UNAVAILABLE",
    );
    expect(await roundTrip(client(h.server.port, { tls: withCert, token: null }), "mtls/anon.txt")).toBe(
      "UNAUTHENTICATED/UNAUTHENTICATED",
    );
    for (const refused of ["mtls/no-cert.txt", "mtls/stranger.txt", "mtls/anon.txt"]) {
      await expect(h.app.service.stat(bucket, refused)).rejects.toMatchObject({ code: "NOT_FOUND" });
    }
  });

  it("refuses client TLS options that cannot work", () => {
    expect(() => connect("127.0.0.1:1", { tls: { ca: pki.ca, cert: pki.clientCert } })).toThrow(/key/);
  });
});
