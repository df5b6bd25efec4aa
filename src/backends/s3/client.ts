import { readFileSync } from "node:fs";
import { Agent as HttpAgent } from "node:http";
import { Agent as HttpsAgent } from "node:https";
import { S3Client } from "@aws-sdk/client-s3";
import { NodeHttpHandler } from "@smithy/node-http-handler";
import { type Config, ConfigError } from "../../config/config.ts";
import { StorageError } from "../../errors.ts";

/**
 * Builds the S3 client for one flavour of S3. MinIO and GCS want path-style addressing and no
 * flexible checksums (GCS rejects the CRC headers newer SDKs send by default; MinIO accepts them but
 * we already hash every byte ourselves). Keep-alive agents bound the sockets to the backend.
 *
 * TLS: MINIO_SECURE=true makes the endpoint https (config.ts); MINIO_CA_FILE, when set, is the only
 * CA the https agent trusts (a private CA for a self-signed MinIO), replacing the system roots.
 */
export function createS3Client(s3: Config["s3"]): S3Client {
  const agentOptions = { keepAlive: true, maxSockets: s3.maxSockets, keepAliveMsecs: 10_000 };
  const ca = s3.caFile ? readCa(s3.caFile) : undefined;
  const awsLike = s3.flavour === "s3";
  const client = new S3Client({
    region: s3.flavour === "gcs" ? "auto" : s3.region,
    endpoint: s3.endpoint,
    forcePathStyle: !awsLike,
    credentials:
      s3.accessKeyId && s3.secretAccessKey
        ? { accessKeyId: s3.accessKeyId.reveal(), secretAccessKey: s3.secretAccessKey.reveal() }
        : undefined,
    requestChecksumCalculation: awsLike ? "WHEN_SUPPORTED" : "WHEN_REQUIRED",
    responseChecksumValidation: awsLike ? "WHEN_SUPPORTED" : "WHEN_REQUIRED",
    maxAttempts: 3,
    requestHandler: new NodeHttpHandler({
      httpAgent: new HttpAgent(agentOptions),
      httpsAgent: new HttpsAgent({ ...agentOptions, ...(ca ? { ca } : {}) }),
      connectionTimeout: 5_000,
      // Per-socket inactivity; long transfers keep the socket busy so this only trips on a stall.
      requestTimeout: 120_000,
    }),
  });
  useUnsignedPayloads(client);
  useFixedUserAgent(client);
  return client;
}

/** Read once at start-up (the client is built synchronously); names the variable, never the contents. */
export function readCa(path: string): Buffer {
  let data: Buffer;
  try {
    data = readFileSync(path);
  } catch (err) {
    const why = (err as NodeJS.ErrnoException).code ?? "unreadable";
    throw new ConfigError(`Invalid configuration: MINIO_CA_FILE (${path}) cannot be read (${why})`);
  }
  if (!data.includes("-----BEGIN ")) {
    throw new ConfigError(`Invalid configuration: MINIO_CA_FILE (${path}) is not a PEM file`);
  }
  return data;
}

// OpenSSL/Node verification failures: the store answered, but its certificate is not trusted.
const UNTRUSTED = new Set([
  "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
  "UNABLE_TO_GET_ISSUER_CERT",
  "UNABLE_TO_GET_ISSUER_CERT_LOCALLY",
  "SELF_SIGNED_CERT_IN_CHAIN",
  "DEPTH_ZERO_SELF_SIGNED_CERT",
  "CERT_UNTRUSTED",
  "CERT_SIGNATURE_FAILURE",
  "CERT_HAS_EXPIRED",
  "CERT_NOT_YET_VALID",
  "CERT_REVOKED",
  "ERR_TLS_CERT_ALTNAME_INVALID",
]);
const HANDSHAKE = new Set(["EPROTO", "ERR_SSL_WRONG_VERSION_NUMBER", "ERR_SSL_PACKET_LENGTH_TOO_LONG"]);

/**
 * A TLS failure talking to the store, as UNAVAILABLE with a message an operator can act on (the
 * service cannot reach its store until the configuration changes), or undefined for other errors.
 */
export function tlsFailure(err: unknown): StorageError | undefined {
  let current: unknown = err;
  for (let depth = 0; current && depth < 5; depth++) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === "string" && UNTRUSTED.has(code)) {
      return new StorageError(
        "UNAVAILABLE",
        `The object store's TLS certificate was not accepted (${code}): set MINIO_CA_FILE to the CA that signed it, or fix the certificate.`,
        { tls: code },
        { cause: err },
      );
    }
    if (typeof code === "string" && HANDSHAKE.has(code)) {
      return new StorageError(
        "UNAVAILABLE",
        `The TLS handshake with the object store failed (${code}): check that it serves TLS on MINIO_ENDPOINT, or set MINIO_SECURE=false.`,
        { tls: code },
        { cause: err },
      );
    }
    current = (current as { cause?: unknown }).cause;
  }
  return undefined;
}

const PAYLOAD_COMMANDS = new Set(["PutObjectCommand", "UploadPartCommand"]);

/**
 * Object bytes are sent with `x-amz-content-sha256: UNSIGNED-PAYLOAD` (what the SDK does over
 * https anyway): over plain http the SDK would otherwise hash every part just to sign it, a second
 * full sha256 pass on the event loop. Integrity is not lost: the service hashes every byte itself
 * and verifies that sha256 on every full read.
 */
export function useUnsignedPayloads(client: S3Client): void {
  client.middlewareStack.add(
    (next, context) => async (args) => {
      const request = args.request as { headers?: Record<string, string> } | undefined;
      if (request?.headers && PAYLOAD_COMMANDS.has(context.commandName ?? "")) {
        request.headers["x-amz-content-sha256"] = "UNSIGNED-PAYLOAD";
      }
      return next(args);
    },
    { step: "build", name: "lumenslateUnsignedPayload", override: true },
  );
}

/** The User-Agent every request to the store carries (the SDK's own names its version and features). */
export const S3_USER_AGENT = "lumenslate-storage";

/**
 * Replaces the SDK's user-agent middleware, which rebuilds and escapes its User-Agent (SDK, OS,
 * Node and feature flags) on every request: 2% of the service's CPU on 64 KiB PUTs. The header is
 * informational only (no store checks it), so a constant one loses nothing.
 */
export function useFixedUserAgent(client: S3Client): void {
  client.middlewareStack.add(
    (next) => async (args) => {
      const request = args.request as { headers?: Record<string, string> } | undefined;
      if (request?.headers) request.headers["user-agent"] = S3_USER_AGENT;
      return next(args);
    },
    { step: "build", priority: "low", name: "getUserAgentMiddleware", override: true },
  );
}
