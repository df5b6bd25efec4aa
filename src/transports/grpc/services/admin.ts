import { reconcileBuckets, reportJson } from "../../../core/reconcile-buckets.ts";
import type { StorageService } from "../../../core/storage-service.ts";
import { StorageError } from "../../../errors.ts";
import type { Logger } from "../../../log.ts";
import { type ApiKeyInfo, MAX_KEY_RATE_LIMIT } from "../../../security/api-keys.ts";
import type { AuditRecord } from "../../../security/audit.ts";
import { auditQueryFrom } from "../../../security/audit-query.ts";
import { formatScope, parseScope, type Security } from "../../../security/index.ts";
import { isKeyId } from "../../../security/tokens.ts";
import type { AdminServiceHandlers } from "../generated/lumenslate/storage/v1/AdminService.ts";
import type { ApiKey } from "../generated/lumenslate/storage/v1/ApiKey.ts";
import type { AuditRecord as AuditRecordMessage } from "../generated/lumenslate/storage/v1/AuditRecord.ts";
import type { InFlight } from "./call-scope.ts";
import { timestamp } from "./convert.ts";
import type { AuditFacts, CallGate } from "./gate.ts";
import { unary } from "./storage-service.ts";

export interface AdminHandlerDeps {
  service: StorageService;
  security: Security;
  logger: Logger;
  inFlight: InFlight;
  /** Reconcile's default: every one of these that exists. */
  configuredBuckets: readonly string[];
}

/**
 * lumenslate.storage.v1.AdminService: key management, the audit trail and reconcile, the same
 * operations as the HTTP admin routes and the CLI. The auth interceptor has authenticated the
 * caller; every handler then checks `admin` on every bucket (`*:admin`) before it touches
 * anything. Changes are audited under the caller's key, naming the key they changed; a token is
 * only ever in the response to CreateKey and RotateKey.
 */
export function adminServiceHandlers(deps: AdminHandlerDeps): AdminServiceHandlers {
  const { keys, audit } = deps.security;
  // `*` as the bucket: what service-wide operations need, and what their audit records say.
  const allow = (gate: CallGate, operation: string) =>
    gate.allow({ action: "admin", bucket: "*", operation });
  /** A change to a key, audited with the caller, the key's id and service. */
  const keyChange = <T>(gate: CallGate, operation: string, run: (facts: AuditFacts) => Promise<T>) =>
    gate.mutation(operation, async (facts) => {
      facts.bucket = "*";
      await allow(gate, operation);
      return run(facts);
    });

  return {
    CreateKey: unary(deps, (req, { gate }) =>
      keyChange(gate, "keys.create", async (facts) => {
        const issued = await keys.create({
          service: req.service,
          scopes: req.scopes.map(parseScope),
          ...(req.rateLimit === undefined ? {} : { rateLimit: rateLimit(req.rateLimit) }),
        });
        facts.details = target(issued.key);
        return { key: apiKey(issued.key), token: issued.token.reveal() };
      }),
    ),

    ListKeys: unary(deps, async (req, { gate }) => {
      await allow(gate, "keys.list");
      const list = await keys.list({ includeRevoked: req.includeRevoked });
      return { keys: list.map(apiKey) };
    }),

    RotateKey: unary(deps, (req, { gate }) =>
      keyChange(gate, "keys.rotate", async (facts) => {
        facts.details = { targetKeyId: keyId(req.id) };
        const issued = await keys.rotate(req.id);
        facts.details = target(issued.key);
        return { key: apiKey(issued.key), token: issued.token.reveal() };
      }),
    ),

    RevokeKey: unary(deps, (req, { gate }) =>
      keyChange(gate, "keys.revoke", async (facts) => {
        facts.details = { targetKeyId: keyId(req.id) };
        const key = await keys.revoke(req.id);
        facts.details = target(key);
        return { key: apiKey(key) };
      }),
    ),

    QueryAudit: unary(deps, async (req, { gate }) => {
      await allow(gate, "audit.query");
      const query = auditQueryFrom({
        since: req.since,
        until: req.until,
        key: req.keyId,
        bucket: req.bucket,
        source: req.source,
        // proto3 has no absent int32: 0 means the default.
        ...(req.limit === 0 ? {} : { limit: req.limit }),
      });
      return { records: (await audit.query(query)).map(auditRecord) };
    }),

    Reconcile: unary(deps, async (req, { gate }) => {
      const run = () =>
        reconcileBuckets(deps.service, {
          buckets: req.buckets,
          configured: deps.configuredBuckets,
          repair: req.repair,
          deleteUnindexed: req.deleteUnindexed,
          ...(req.staleUploadHours === undefined
            ? {}
            : { staleUploadHours: staleHours(req.staleUploadHours) }),
        });
      // A dry run only reads and is not audited; a repair is, with what it did.
      if (!req.repair) {
        await allow(gate, "reconcile");
        return { reports: (await run()).map(reportJson) };
      }
      return gate.mutation("reconcile", async (facts) => {
        facts.bucket = "*";
        facts.details = {
          repair: true,
          deleteUnindexed: req.deleteUnindexed,
          buckets: req.buckets.join(","),
        };
        await allow(gate, "reconcile");
        const reports = await run();
        facts.details = {
          ...facts.details,
          buckets: reports.map((r) => r.bucket).join(","),
          repaired: reports.reduce((n, r) => n + r.repaired, 0),
        };
        return { reports: reports.map(reportJson) };
      });
    }),
  };
}

const invalid = (field: string, message: string) => new StorageError("INVALID_ARGUMENT", message, { field });

/** Only a key id: a whole token sent here by mistake must not reach an error message or a log line. */
function keyId(id: string): string {
  if (!isKeyId(id)) throw invalid("id", "Expected a key id: 16 characters of a-z and 0-9, not a token.");
  return id;
}

function rateLimit(value: number): number {
  if (!Number.isSafeInteger(value) || value < 1 || value > MAX_KEY_RATE_LIMIT) {
    throw invalid("rateLimit", `The rate limit must be a whole number from 1 to ${MAX_KEY_RATE_LIMIT}.`);
  }
  return value;
}

function staleHours(value: number): number {
  if (!Number.isFinite(value) || value < 0) {
    throw invalid("staleUploadHours", "staleUploadHours must be a number of hours, 0 or more.");
  }
  return value;
}

const target = (key: ApiKeyInfo) => ({ targetKeyId: key.id, targetService: key.service });

const apiKey = (key: ApiKeyInfo): ApiKey => ({
  id: key.id,
  service: key.service,
  scopes: key.scopes.map(formatScope),
  ...(key.rateLimit === null ? {} : { rateLimit: key.rateLimit }),
  createdAt: timestamp(key.createdAt),
  ...(key.rotatedAt ? { rotatedAt: timestamp(key.rotatedAt) } : {}),
  ...(key.revokedAt ? { revokedAt: timestamp(key.revokedAt) } : {}),
});

/** Null columns become absent optional fields. */
const present = <K extends string, V>(name: K, value: V | null) =>
  (value === null ? {} : { [name]: value }) as Partial<Record<K, V>>;

const auditRecord = (r: AuditRecord): AuditRecordMessage => ({
  id: r.id,
  time: timestamp(r.time),
  source: r.source,
  action: r.action,
  result: r.result,
  ...present("keyId", r.keyId),
  ...present("service", r.service),
  ...present("protocol", r.protocol),
  ...present("bucket", r.bucket),
  ...present("key", r.key),
  ...present("versionId", r.versionId),
  ...present("bytes", r.bytes),
  ...present("requestId", r.requestId),
  ...present("clientAddress", r.clientAddress),
  detailsJson: JSON.stringify(r.details),
});
