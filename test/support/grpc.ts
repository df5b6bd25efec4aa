import type { DestinationStream } from "pino";
import { expect } from "vitest";
import {
  type ConnectOptions,
  connect,
  type StorageClient,
  StorageClientError,
} from "../../packages/client/src/index.ts";
import { createApp } from "../../src/app.ts";
import { createLogger } from "../../src/log.ts";
import {
  type GrpcServer,
  type GrpcServerOptions,
  startGrpcServer,
} from "../../src/transports/grpc/server.ts";
import type { TestApp } from "./app.ts";
import { issueToken } from "./auth-matrix.ts";
import { testConfig } from "./config.ts";

export { issueToken, keyIdOf, unknownToken } from "./auth-matrix.ts";

/** For `connect(..., { retry: NO_RETRY })`: one attempt per call, the service's answer as it came. */
export const NO_RETRY = { maxAttempts: 1 } as const;

/** The StorageClientError a promise rejects with (and a failed expectation if it resolves). */
export async function failure(promise: Promise<unknown>): Promise<StorageClientError> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(StorageClientError);
  return err as StorageClientError;
}

/**
 * gRPC suites: an app whose every log line (app, security and gRPC server) is captured, so a suite
 * can look for secrets in what it logged; API keys issued through the app's own security layer;
 * and a running server with an admin client.
 */

/** Every line a logger wrote, raw (for secret scans) and parsed (for assertions). */
export class LogCapture implements DestinationStream {
  readonly raw: string[] = [];
  readonly lines: Record<string, unknown>[] = [];

  write(line: string): void {
    this.raw.push(line);
    this.lines.push(JSON.parse(line) as Record<string, unknown>);
  }

  /** Fails if any secret (or the secret half of an `lss_<id>_<secret>` token) was ever logged. */
  expectNoSecrets(secrets: readonly string[]): void {
    const text = this.raw.join("");
    for (const secret of secrets) {
      const parts = [secret, /^lss_[a-z0-9]{16}_(.+)$/.exec(secret)?.[1]].filter((s): s is string => !!s);
      for (const part of parts) expect(text.includes(part), "a secret appears in the log").toBe(false);
    }
  }
}

/** The real service logger (same redaction settings) at debug level, into `capture`. */
export async function createCapturedApp(
  capture: LogCapture,
  overrides: Record<string, string> = {},
): Promise<TestApp> {
  const config = testConfig(overrides);
  const app = await createApp(config, createLogger({ log: { level: "debug" } }, capture));
  try {
    await app.bootstrap();
  } catch (err) {
    await app.close();
    throw err;
  }
  return { ...app, dispose: () => app.close() };
}

export interface GrpcHarness {
  app: TestApp;
  server: GrpcServer;
  /** 127.0.0.1:<port> */
  address: string;
  /** Token of an admin key (`*:admin`). */
  adminToken: string;
  /** A client with the admin token. */
  client: StorageClient;
  logs: LogCapture;
  /**
   * Another client to this server: with `options` as given, or the admin token when omitted; no
   * retries unless `options.retry` says otherwise.
   */
  connect(options?: ConnectOptions): StorageClient;
  /** issueToken on this app, remembering the token for the log scan. */
  issue(service: string, scopes: readonly string[], rateLimit?: number): Promise<string>;
  /** Every token issued through this harness. */
  secrets: string[];
  close(): Promise<void>;
}

/**
 * A captured-log app on the shared MinIO (see createCapturedApp), an admin key, and the gRPC
 * server on 127.0.0.1 on a free port with a client that authenticates as that admin.
 */
export async function startGrpc(
  options: { env?: Record<string, string>; server?: GrpcServerOptions; logs?: LogCapture } = {},
): Promise<GrpcHarness> {
  const logs = options.logs ?? new LogCapture();
  const app = await createCapturedApp(logs, options.env);
  let server: GrpcServer;
  let adminToken: string;
  try {
    adminToken = await issueToken(app, "test-admin", ["*:admin"]);
    server = await startGrpcServer(app, { host: "127.0.0.1", port: 0, ...options.server });
  } catch (err) {
    await app.dispose();
    throw err;
  }
  const address = `127.0.0.1:${server.port}`;
  const clients: StorageClient[] = [];
  const open = (connectOptions: ConnectOptions = { token: adminToken }) => {
    // Suites assert the service's own answers (RATE_LIMITED, UNAVAILABLE, ...), so these clients
    // do not retry unless a suite asks for it.
    const client = connect(address, { retry: NO_RETRY, ...connectOptions });
    clients.push(client);
    return client;
  };
  const secrets = [adminToken];
  return {
    app,
    server,
    address,
    adminToken,
    client: open(),
    logs,
    connect: open,
    issue: async (service, scopes, rateLimit) => {
      const token = await issueToken(app, service, scopes, rateLimit);
      secrets.push(token);
      return token;
    },
    secrets,
    close: async () => {
      for (const client of clients) client.close();
      await server.close(1);
      await app.dispose();
    },
  };
}
