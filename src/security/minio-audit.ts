import { createHash, timingSafeEqual } from "node:crypto";
import type { Secret } from "../config/secret.ts";
import { type ErrorCode, StorageError } from "../errors.ts";
import type { AuditEvent, AuditLog } from "./audit.ts";

/**
 * MinIO's audit webhook (MINIO_AUDIT_WEBHOOK_ENDPOINT_<target> pointed at the service): MinIO POSTs
 * JSON entries, one per S3/admin call, with the configured token as the Authorization header value
 * (sent as is, no scheme). Entries become audit records with source "minio" next to the service's
 * own. Only selected fields are kept: MinIO includes request headers, whose Authorization carries
 * signatures, and those are never stored.
 */

/** The handful of entry fields we read (MinIO sends more). */
interface MinioEntry {
  time?: unknown;
  deploymentid?: unknown;
  trigger?: unknown;
  api?: {
    name?: unknown;
    bucket?: unknown;
    object?: unknown;
    status?: unknown;
    statusCode?: unknown;
    rx?: unknown;
    tx?: unknown;
    timeToResponseInNS?: unknown;
  };
  remotehost?: unknown;
  requestID?: unknown;
  userAgent?: unknown;
  requestQuery?: Record<string, unknown>;
  responseHeader?: Record<string, unknown>;
  accessKey?: unknown;
}

const MAX_ENTRIES = 10_000;

const str = (v: unknown, max = 1024): string | undefined =>
  typeof v === "string" && v !== "" ? v.slice(0, max) : undefined;
const num = (v: unknown): number | undefined => {
  const n = typeof v === "string" ? Number(v) : v;
  return typeof n === "number" && Number.isFinite(n) ? n : undefined;
};

/** HTTP status from MinIO to the service's error codes, so one query can look across both sources. */
export function resultFromStatus(status: number | undefined): ErrorCode | "OK" {
  if (status === undefined) return "INTERNAL";
  if (status < 400) return "OK";
  const byStatus: Record<number, ErrorCode> = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    409: "ALREADY_EXISTS",
    411: "INVALID_ARGUMENT",
    412: "PRECONDITION_FAILED",
    413: "TOO_LARGE",
    416: "RANGE_NOT_SATISFIABLE",
    429: "RATE_LIMITED",
    501: "UNSUPPORTED_OPERATION",
    503: "UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
  };
  return byStatus[status] ?? (status < 500 ? "INVALID_ARGUMENT" : "INTERNAL");
}

const READS = /^(Get|Head|Select|List)/;

function toEvent(entry: MinioEntry): AuditEvent | undefined {
  const api = entry.api;
  const name = str(api?.name, 128);
  if (!api || !name) return undefined;
  const statusCode = num(api.statusCode);
  const rx = num(api.rx);
  const tx = num(api.tx);
  const versionId =
    str(entry.responseHeader?.["X-Amz-Version-Id"], 256) ?? str(entry.requestQuery?.versionId, 256);
  return {
    source: "minio",
    keyId: str(entry.accessKey, 256) ?? null,
    service: null,
    protocol: "s3",
    action: `s3:${name}`,
    bucket: str(api.bucket, 256) ?? null,
    key: str(api.object) ?? null,
    versionId: versionId ?? null,
    result: resultFromStatus(statusCode),
    // Bytes moved by the call: sent for reads, received otherwise.
    bytes: (READS.test(name) ? tx : rx) ?? null,
    requestId: str(entry.requestID, 128) ?? null,
    clientAddress: str(entry.remotehost, 128) ?? null,
    details: {
      time: str(entry.time, 64) ?? null,
      statusCode: statusCode ?? null,
      status: str(api.status, 128) ?? null,
      rx: rx ?? null,
      tx: tx ?? null,
      timeToResponseNs: num(api.timeToResponseInNS) ?? null,
      userAgent: str(entry.userAgent, 256) ?? null,
      deploymentId: str(entry.deploymentid, 64) ?? null,
      trigger: str(entry.trigger, 32) ?? null,
    },
  };
}

/**
 * Audit events from a webhook body: one JSON entry, a JSON array of entries, or entries one per
 * line (batched delivery). Entries without an API name are skipped. Throws INVALID_ARGUMENT when
 * the body is not JSON at all.
 */
export function parseMinioAuditPayload(body: string | Uint8Array | unknown): AuditEvent[] {
  let values: unknown[];
  if (typeof body === "string" || body instanceof Uint8Array) {
    const text = (typeof body === "string" ? body : Buffer.from(body).toString("utf8")).trim();
    if (text === "") return [];
    try {
      const parsed: unknown = JSON.parse(text);
      values = Array.isArray(parsed) ? parsed : [parsed];
    } catch {
      try {
        values = text
          .split("\n")
          .map((l) => l.trim())
          .filter(Boolean)
          .map((l) => JSON.parse(l) as unknown);
      } catch {
        throw new StorageError("INVALID_ARGUMENT", "The MinIO audit payload is not JSON.", { field: "body" });
      }
    }
  } else {
    values = Array.isArray(body) ? body : [body];
  }
  if (values.length > MAX_ENTRIES) {
    throw new StorageError("TOO_LARGE", `At most ${MAX_ENTRIES} audit entries per delivery.`, {
      limit: MAX_ENTRIES,
    });
  }
  return values
    .filter((v): v is MinioEntry => typeof v === "object" && v !== null)
    .map(toEvent)
    .filter((e): e is AuditEvent => e !== undefined);
}

const sha = (text: string) => createHash("sha256").update(text).digest();

/** Whether an Authorization value carries the webhook token (as is, or as `Bearer <token>`). */
export function webhookTokenMatches(authorization: string | undefined, token: Secret): boolean {
  if (authorization === undefined) return false;
  const presented = authorization.trim().replace(/^bearer\s+/i, "");
  // Equal-length digests: the comparison time says nothing about the token.
  return timingSafeEqual(sha(presented), sha(token.reveal()));
}

/**
 * Checks the token and stores the entries. Throws NOT_FOUND when no token is configured (the
 * endpoint is off), UNAUTHENTICATED on a wrong token. Returns how many events were stored.
 */
export async function receiveMinioAudit(
  deps: { audit: AuditLog; token: Secret | undefined },
  authorization: string | undefined,
  body: string | Uint8Array | unknown,
): Promise<number> {
  if (!deps.token) {
    throw new StorageError(
      "NOT_FOUND",
      "The MinIO audit webhook is not enabled (MINIO_AUDIT_WEBHOOK_TOKEN).",
    );
  }
  if (!webhookTokenMatches(authorization, deps.token)) {
    throw new StorageError("UNAUTHENTICATED", "The webhook token is not valid.");
  }
  const events = parseMinioAuditPayload(body);
  await deps.audit.recordMany(events);
  return events.length;
}
