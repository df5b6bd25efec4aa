import { readFile } from "node:fs/promises";
import { type Config, ConfigError } from "../config/config.ts";

/**
 * Reads the PEM files named by TLS_* once at start-up, for both servers: HTTP gets cert + key,
 * gRPC also the client CA (and whether a client certificate is required). A missing or unreadable
 * file stops start-up with a ConfigError naming the variable and path (never the contents).
 */

export interface TlsMaterial {
  cert: Buffer;
  key: Buffer;
  /** CA client certificates must chain to; undefined when TLS_CLIENT_CA_FILE is unset. */
  clientCa?: Buffer;
  /** gRPC: refuse clients without a certificate signed by clientCa. */
  requireClientCert: boolean;
}

async function readPem(variable: string, path: string): Promise<Buffer> {
  let data: Buffer;
  try {
    data = await readFile(path);
  } catch (err) {
    const why = (err as NodeJS.ErrnoException).code ?? "unreadable";
    throw new ConfigError(`Invalid configuration: ${variable} (${path}) cannot be read (${why})`);
  }
  if (!data.includes("-----BEGIN ")) {
    throw new ConfigError(`Invalid configuration: ${variable} (${path}) is not a PEM file`);
  }
  return data;
}

/** The servers' TLS material, or undefined when TLS is not configured (plain text). */
export async function loadTlsMaterial(tls: Config["tls"]): Promise<TlsMaterial | undefined> {
  if (!tls.certFile || !tls.keyFile) return undefined;
  // One after another, so the error always names the first bad variable in this order.
  const cert = await readPem("TLS_CERT_FILE", tls.certFile);
  const key = await readPem("TLS_KEY_FILE", tls.keyFile);
  const clientCa = tls.clientCaFile ? await readPem("TLS_CLIENT_CA_FILE", tls.clientCaFile) : undefined;
  return { cert, key, ...(clientCa ? { clientCa } : {}), requireClientCert: tls.grpcRequireClientCert };
}

/** The CA bundle for a MinIO on TLS with a private CA (MINIO_CA_FILE), or undefined. */
export async function loadMinioCa(s3: Config["s3"]): Promise<Buffer | undefined> {
  return s3.caFile ? readPem("MINIO_CA_FILE", s3.caFile) : undefined;
}
