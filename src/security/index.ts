import { rm } from "node:fs/promises";
import path from "node:path";
import type { Logger } from "pino";
import type { Config } from "../config/config.ts";
import type { StorageService } from "../core/storage-service.ts";
import { isStorageError } from "../errors.ts";
import type { Database } from "../metadata/database.ts";
import { readAdminTokenFile } from "./admin-token-file.ts";
import { type IssuedKey, KeyStore } from "./api-keys.ts";
import { type AuditEvent, AuditLog } from "./audit.ts";
import {
  type AuditExporter,
  type AuditExportOptions,
  type ExportedHour,
  exportAudit,
  startAuditExporter,
} from "./audit-export.ts";
import { Authenticator } from "./authenticator.ts";
import type { ScryptParams } from "./hashing.ts";
import { writeKeyFile } from "./key-file.ts";
import { receiveMinioAudit } from "./minio-audit.ts";
import type { SharedBudgetStore } from "./rate-limit.ts";
import { type Action, authorize, type Bindings, type Principal } from "./scopes.ts";
import {
  TemporaryCredentialIssuer,
  type TemporaryCredentials,
  type TemporaryCredentialsRequest,
} from "./temporary-credentials.ts";
import { bearerToken, parseToken } from "./tokens.ts";

/**
 * The security layer both servers share. Wiring, for the transports:
 *
 * HTTP (Fastify): an `onRequest` hook on /v1 routes — it runs before the body is read, so a refused
 * upload costs nothing and writes nothing:
 *
 *     fastify.addHook("onRequest", async (req) => {
 *       req.principal = await security.check(
 *         { authorization: req.headers.authorization, clientAddress: req.ip, protocol: "http", requestId: req.id },
 *         { action: "write", bucket, key, bindings: { user_id: req.headers["x-user-id"] } },
 *       );
 *     });
 *
 * where bucket/key/action come from the route (a per-route `config.access` works well). The webhook
 * route for MinIO (`receiveMinioAudit`) and the probes skip the hook.
 *
 * gRPC: a server interceptor that, in `onReceiveMetadata`, calls `security.check` with
 * `metadata.get("authorization")[0]` before calling `next(metadata)`. grpc-js holds messages until
 * then, so the handler never starts and no message is read for a refused call (the rate-limit
 * interceptor does the same). The method's bucket/key arrive in the first message, so either the
 * interceptor authenticates only (`security.authenticate`) and the handler calls `authorize` on the
 * first message before it touches the store, or bucket/key travel in metadata too.
 *
 * Both: no or bad key → UNAUTHENTICATED (401 / UNAUTHENTICATED); a key outside its scope →
 * PERMISSION_DENIED (403 / PERMISSION_DENIED). Authorization is a pure function of the key and the
 * request, checked before any backend call, so the answer for an object outside the scope is the
 * same whether it exists or not — never look the object up first, and never return NOT_FOUND for a
 * bucket the key has no scope on. Refusals are audited by `check`; after a mutating call completes
 * (or fails), the transport calls `recordAudit` once with the outcome.
 */

export interface SecurityDeps {
  config: Config;
  db: Database;
  service: StorageService;
  logger: Logger;
  /** Where failure budgets live when instances share them (a PostgreSQL server); else memory. */
  rateLimitStore?: SharedBudgetStore;
  /** Tests only: cheaper hashing. */
  scrypt?: ScryptParams;
}

/** Facts about one incoming call, the same for HTTP and gRPC. */
export interface CallInfo {
  /** The Authorization header (HTTP) or `authorization` metadata value (gRPC). */
  authorization: string | undefined;
  clientAddress: string;
  protocol: "http" | "grpc";
  requestId?: string;
}

export interface AccessRequest {
  action: Action | readonly Action[];
  /** Undefined for service-wide operations (they need `admin` on `*`). */
  bucket?: string;
  /** Object key, or listing prefix. */
  key?: string;
  versionId?: string;
  bindings?: Bindings;
  /** The operation name to audit (default: the action), e.g. "upload", "presign". */
  operation?: string;
}

export interface Security {
  /** AUTH_DISABLED=true: every call gets full rights. */
  readonly disabled: boolean;
  readonly keys: KeyStore;
  readonly audit: AuditLog;
  authenticate(authorization: string | undefined, clientAddress: string): Promise<Principal>;
  /** Pure: throws PERMISSION_DENIED unless the principal may do this. */
  readonly authorize: typeof authorize;
  /** authenticate + authorize; a refusal is audited once and rethrown. */
  check(call: CallInfo, access: AccessRequest): Promise<Principal>;
  /** Stores one audit event; never rejects (a failure is logged, not turned into the caller's error). */
  recordAudit(event: AuditEvent): Promise<void>;
  temporaryCredentials(principal: Principal, req: TemporaryCredentialsRequest): Promise<TemporaryCredentials>;
  /** MinIO's audit webhook: token check, parse, store. Returns the number of events stored. */
  receiveMinioAudit(authorization: string | undefined, body: unknown): Promise<number>;
  exportAudit(options?: AuditExportOptions): Promise<ExportedHour[]>;
  /** Lines to print loudly at start-up (and to show on /readyz) — e.g. authentication disabled. */
  warnings(): string[];
  /**
   * Start-up: creates the first admin key when configured and none ever existed: the operator's own
   * from AUTH_BOOTSTRAP_ADMIN_TOKEN_FILE when set (unreadable or malformed: ConfigError), else a new
   * one whose token is written once to AUTH_BOOTSTRAP_KEY_FILE (no file written, no key: throws
   * ConfigError); tells `announce`
   * where it is — and the token itself only with `showToken` (a person at a terminal, not a log
   * collector); prints the warnings; starts the hourly audit export. Nothing of the token is logged.
   */
  start(options: StartOptions): Promise<void>;
  close(): Promise<void>;
}

export interface StartOptions {
  /** Lines for the operator's terminal (stderr), apart from the JSON log. */
  announce: (text: string) => void;
  /** Also show the first admin key's token on the terminal: only when stderr is a TTY. */
  showToken?: boolean;
}

export function createSecurity(deps: SecurityDeps): Security {
  const { config, db, service, logger } = deps;
  const keys = new KeyStore(db, deps.scrypt ? { scrypt: deps.scrypt } : {});
  const audit = new AuditLog(db);
  const authenticator = new Authenticator({
    keys,
    disabled: config.auth.disabled,
    cacheTtlSeconds: config.auth.keyCacheTtlSeconds,
    failures: config.auth.addressFailures,
    keyIdFailures: config.auth.keyIdFailures,
    ...(deps.rateLimitStore ? { store: deps.rateLimitStore } : {}),
  });
  const issuer = new TemporaryCredentialIssuer(config);
  let exporter: AuditExporter | undefined;

  const recordAudit = async (event: AuditEvent) => {
    try {
      await audit.record(event);
    } catch (err) {
      logger.error({ err, action: event.action, result: event.result }, "audit record could not be stored");
    }
  };

  const exportNow = (options?: AuditExportOptions) =>
    exportAudit(
      { db, audit, service, bucket: config.buckets.logs, compression: config.logs.compression },
      options,
    );

  const warnings = () =>
    config.auth.disabled
      ? [
          "AUTHENTICATION IS DISABLED (AUTH_DISABLED=true): every request runs with full rights. Never do this on a reachable network.",
        ]
      : [];

  return {
    disabled: config.auth.disabled,
    keys,
    audit,
    authorize,
    authenticate: (authorization, clientAddress) => authenticator.authenticate(authorization, clientAddress),
    async check(call, access) {
      let principal: Principal | undefined;
      try {
        principal = await authenticator.authenticate(call.authorization, call.clientAddress);
        authorize(principal, access.action, access.bucket, access.key, access.bindings ?? {});
        return principal;
      } catch (err) {
        if (isStorageError(err)) {
          // A refused call names the key it presented (ids are public), never the secret.
          const presented = parseToken(bearerToken(call.authorization) ?? "")?.id;
          await recordAudit({
            keyId: principal?.keyId ?? presented ?? null,
            service: principal?.service ?? null,
            protocol: call.protocol,
            action:
              access.operation ??
              (typeof access.action === "string" ? access.action : access.action.join("+")),
            bucket: access.bucket ?? null,
            key: access.key ?? null,
            versionId: access.versionId ?? null,
            result: err.code,
            requestId: call.requestId ?? null,
            clientAddress: call.clientAddress,
          });
        }
        throw err;
      }
    },
    recordAudit,
    temporaryCredentials: (principal, req) => issuer.issue(principal, req),
    receiveMinioAudit: (authorization, body) =>
      receiveMinioAudit({ audit, token: config.audit.webhookToken }, authorization, body),
    exportAudit: exportNow,
    warnings,
    async start({ announce, showToken = false }) {
      for (const line of warnings()) {
        logger.warn(line);
        announce(`WARNING: ${line}`);
      }
      const tokenFile = config.auth.bootstrapAdminTokenFile;
      if (!config.auth.disabled && config.auth.bootstrapAdmin && tokenFile) {
        const adopted = await keys.ensureBootstrapAdmin(undefined, () => readAdminTokenFile(tokenFile));
        if (adopted) {
          logger.info(
            { keyId: adopted.key.id },
            "created the first admin API key from the token in AUTH_BOOTSTRAP_ADMIN_TOKEN_FILE",
          );
          announce(
            `Created the first admin API key (id ${adopted.key.id}) from the token in AUTH_BOOTSTRAP_ADMIN_TOKEN_FILE; no token was generated or written.`,
          );
        }
      } else if (!config.auth.disabled && config.auth.bootstrapAdmin) {
        const keyFile = path.resolve(config.auth.bootstrapKeyFile);
        const issued = await createBootstrapAdmin(keys, keyFile);
        if (issued) {
          logger.info(
            { keyId: issued.key.id, keyFile },
            "created the first admin API key; its token is in the key file",
          );
          announce(
            [
              `Created the first admin API key (id ${issued.key.id}). Its token was written once to ${keyFile}`,
              "(mode 0600): store it somewhere safe, then delete that file.",
              ...(showToken
                ? ["The token (shown on this terminal only, never logged):", `  ${issued.token.reveal()}`]
                : []),
              "Use it as 'Authorization: Bearer <key>'. Create per-service keys with `lumenslate-storage keys create`.",
            ].join("\n"),
          );
        }
      }
      if (config.audit.exportIntervalSeconds > 0) {
        exporter = startAuditExporter({
          intervalSeconds: config.audit.exportIntervalSeconds,
          run: () => exportNow(),
          logger,
        });
      }
    },
    async close() {
      exporter?.stop();
      issuer.close();
    },
  };
}

/**
 * The first admin key, created only if its token reached the key file (written inside the creating
 * transaction). Should the commit fail after the write, the file would hold a dead token and block
 * the next attempt: it is removed.
 */
async function createBootstrapAdmin(keys: KeyStore, keyFile: string): Promise<IssuedKey | undefined> {
  let written = false;
  try {
    return await keys.ensureBootstrapAdmin(async (issued) => {
      await writeKeyFile(keyFile, issued.token);
      written = true;
    });
  } catch (err) {
    if (written) await rm(keyFile, { force: true }).catch(() => {});
    throw err;
  }
}

export type { ApiKeyInfo, IssuedKey, NewKey } from "./api-keys.ts";
export { KeyStore } from "./api-keys.ts";
export type { AuditEvent, AuditQuery, AuditRecord } from "./audit.ts";
export { AuditLog } from "./audit.ts";
export type { ExportedHour } from "./audit-export.ts";
export { OPEN_PRINCIPAL } from "./authenticator.ts";
export { redact, redactTokens } from "./redact.ts";
export type { Action, Bindings, Principal, Scope } from "./scopes.ts";
export { ACTIONS, authorize, formatScope, isAllowed, parseScope } from "./scopes.ts";
export type { TemporaryCredentials, TemporaryCredentialsRequest } from "./temporary-credentials.ts";
export { loadMinioCa, loadTlsMaterial, type TlsMaterial } from "./tls.ts";
