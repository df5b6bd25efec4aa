import type { FastifyRequest } from "fastify";
import type { ErrorCode } from "../../errors.ts";
import type { Action, Principal } from "../../security/index.ts";
import type { PublicReason } from "./route-policy.ts";

/**
 * What each route may be asked to do, declared beside the route (`config.access`) and enforced by
 * auth.ts for every /v1 route. A route names its targets from the URL (checked in onRequest, before
 * a single body byte is read) or, for the small JSON routes that name them in the body (copy,
 * presign, credentials), from the validated body (checked in preHandler, before the handler runs).
 * Either way authorization is settled before the store is touched, so a refusal looks the same
 * whether or not the object exists.
 */

/** One thing a call does: actions on a bucket and an object key (or a listing/delete prefix). */
export interface Target {
  action: Action | readonly Action[];
  bucket: string;
  key?: string;
  versionId?: string;
}

export interface RouteAccess {
  /** The operation's name in audit records: "upload", "delete", "copy", ... */
  operation: string;
  /**
   * Mutating and access-granting calls (uploads, deletes, copies, presigning, temporary
   * credentials) get one audit record with their outcome, written before the answer is sent.
   */
  audited: boolean;
  /** Targets named by the URL (path and query). */
  url?: (request: FastifyRequest) => Target[];
  /** Targets named by the JSON body, after validation. */
  body?: (request: FastifyRequest) => Target[];
}

/** What the audit record of an audited call says; routes fill in what only the outcome knows. */
export interface AuditNote {
  bucket?: string;
  key?: string;
  versionId?: string;
  bytes?: number;
  details?: Record<string, unknown>;
}

/** Per-request security state (request.auth), set once the caller is authenticated. */
export interface RequestAuth {
  principal: Principal;
  /** Defaults to the last target checked (for a copy: its target). */
  note: AuditNote;
  /** Set when this call's audit record has been written (or a refusal was audited by security.check). */
  recorded: boolean;
  /** The error code the caller was answered with (set by the error handler). */
  failure?: ErrorCode;
}

declare module "fastify" {
  interface FastifyContextConfig {
    /** What the route does; a route without it must be `public` (route-policy.ts refuses it otherwise). */
    access?: RouteAccess;
    /** Reachable without an API key, and why (MinIO's audit webhook checks a token of its own). */
    public?: PublicReason;
  }
  interface FastifyRequest {
    auth: RequestAuth | null;
  }
}

/** The calling service, recorded as the owner of the versions it writes. */
export const ownerOf = (request: FastifyRequest): string => request.auth?.principal.service ?? "anonymous";

/** Keys are stored NFC-normalised (core/keys.ts): judge the key the store will actually use. */
export const normaliseKey = (key: string): string => key.normalize("NFC");

/** A query value that must be a single string; anything else (absent, repeated) is undefined. */
export function queryString(request: FastifyRequest, name: string): string | undefined {
  const value = (request.query as Record<string, unknown> | undefined)?.[name];
  return typeof value === "string" ? value : undefined;
}

/** The `:bucket` and `*` path parameters as the router decoded them. */
export function pathParams(request: FastifyRequest): { bucket: string; rest: string } {
  const params = request.params as Record<string, string | undefined>;
  return { bucket: params.bucket ?? "", rest: params["*"] ?? "" };
}

/** Adds to what this call's audit record will say (no-op when unauthenticated). */
export function noteAudit(request: FastifyRequest, note: AuditNote): void {
  if (request.auth) request.auth.note = { ...request.auth.note, ...note };
}

/**
 * Service-wide operations (key management, the audit trail, reconcile) need `admin` on every
 * bucket, with no prefix (`*:admin`). A key with `admin` on one bucket (`temp:admin`), or on a
 * prefix only, may not touch other services' keys or read the whole trail.
 */
export const SERVICE_WIDE: readonly Target[] = [{ action: "admin", bucket: "*" }];

/** A call of an audited route that turned out to change nothing (a dry run): no record, like a read. */
export function skipAudit(request: FastifyRequest): void {
  if (request.auth) request.auth.recorded = true;
}
