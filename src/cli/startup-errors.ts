import type { Config } from "../config/config.ts";
import { StorageError } from "../errors.ts";

/**
 * Start-up failures rewritten for the operator who has to fix them: the message names the setting
 * to look at and the cause underneath (the socket error, the port), which the API's own messages
 * keep to themselves (an API caller must not learn the store's address). For `serve` and `bootstrap`.
 */

interface SdkFailure {
  name?: string;
  message?: string;
  $metadata?: { httpStatusCode?: number; requestId?: string };
}

/** The errors in a cause chain, outermost first. */
function* causes(err: unknown): Generator<unknown> {
  let current = err;
  for (let depth = 0; current && depth < 6; depth++) {
    yield current;
    current = (current as { cause?: unknown }).cause;
  }
}

/** `connect ECONNREFUSED 127.0.0.1:9000`: the socket error's own words, when there is one. */
function socketError(err: unknown): string | undefined {
  for (const e of causes(err)) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === "string" && /^E[A-Z]+$/.test(code) && e instanceof Error) {
      return e.message.includes(code) ? e.message : `${code}: ${e.message}`;
    }
  }
  return undefined;
}

/**
 * An HTTP answer that no S3 server gives: S3, MinIO and their kin tag every response with a
 * request id (`x-amz-request-id`); a console, a proxy's error page or another web server does not.
 */
function notS3(err: unknown): SdkFailure | undefined {
  for (const e of causes(err)) {
    const meta = (e as SdkFailure).$metadata;
    if (meta?.httpStatusCode !== undefined) return meta.requestId ? undefined : (e as SdkFailure);
  }
  return undefined;
}

/** The object store failed during start-up: say which setting points where, and what happened. */
export function explainStoreFailure(err: unknown, config: Config): unknown {
  if (config.storage.backend === "local" || !(err instanceof StorageError)) return err;
  // GCS's XML API answers without an x-amz-request-id, so only its socket errors are explained.
  const endpoint = config.s3.endpoint ?? "the AWS regional endpoint";
  const socket = socketError(err);
  if (socket) {
    return new StorageError(
      "UNAVAILABLE",
      `Cannot reach the object store at MINIO_ENDPOINT (${endpoint}): ${socket}. Start MinIO there, or set MINIO_ENDPOINT to where it runs.`,
      {},
      { cause: err },
    );
  }
  const answer = config.s3.flavour === "gcs" ? undefined : notS3(err);
  if (answer) {
    return new StorageError(
      "UNAVAILABLE",
      `MINIO_ENDPOINT (${endpoint}) answered HTTP ${answer.$metadata?.httpStatusCode} but is not an S3 API (no S3 request id in the response). Point MINIO_ENDPOINT at MinIO's S3 port (9000 by default), not its console (9001) or another web server.`,
      {},
      { cause: err },
    );
  }
  return err;
}

/** A server could not listen: a port in use names the setting that chose it. */
export function explainListenFailure(
  err: unknown,
  server: { setting: "HTTP_PORT" | "GRPC_PORT"; hostSetting: string; host: string; port: number },
): unknown {
  const text = [...causes(err)]
    .map((e) => `${(e as { code?: unknown }).code ?? ""} ${e instanceof Error ? e.message : ""}`)
    .join(" ");
  const inUse = text.includes("EADDRINUSE");
  const denied = text.includes("EACCES");
  if (!inUse && !denied) return err;
  const why = inUse
    ? "is already in use (another process listens there; stop it or choose another port)"
    : "may not be opened by this user (ports below 1024 need privileges; choose another port)";
  return new StorageError(
    "UNAVAILABLE",
    `${server.setting}=${server.port} ${why}; ${server.hostSetting}=${server.host}.`,
    { setting: server.setting },
    { cause: err },
  );
}
