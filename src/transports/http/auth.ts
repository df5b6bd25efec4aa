import type { FastifyInstance, FastifyRequest } from "fastify";
import type { AppContext } from "../../app.ts";
import { isStorageError, StorageError } from "../../errors.ts";
import type { Bindings, CallInfo, Principal } from "../../security/index.ts";
import type { RouteAccess, Target } from "./access.ts";
import { rateLimitSubject } from "./rate-limit.ts";

/**
 * Authentication, authorization, rate limits and the audit trail for every /v1 route.
 *
 * - onRequest (before the body is read): the API key from `Authorization: Bearer <key>` is checked
 *   together with the targets the URL names; the body routes (copy, presign, credentials) are
 *   authenticated here and authorized in preHandler, on the validated body, before the handler
 *   touches the store. Refusals (401/403) are audited by security.check itself.
 * - Rate limits: a call with no credentials is charged to its client address before anything else
 *   (429 once spent, so an anonymous flood is not audited call by call); a call with an invalid
 *   key to its address too (429 instead of 401 once spent, as on gRPC); an authenticated one to its
 *   key (`key:<id>`, with the key's own budget when it has one), before authorization, so calls
 *   refused by scope count as well. With AUTH_DISABLED=true every caller is the same open
 *   principal, so the address is charged instead.
 * - Audit: a mutating or access-granting call (RouteAccess.audited) gets one record with its
 *   outcome, written in onSend: after the call completed or failed, before the caller hears of it.
 *
 * Which routes need a key is decided by the route the router matched (route-policy.ts): every
 * route needs one unless it is declared `config.public` (probes, /metrics, the OpenAPI document and
 * its UI, MinIO's webhook, which checks a token of its own). A matched route that declares neither
 * is refused here as well as at start-up. A path no route matches needs a key too before it is a 404.
 */

/** The `x-user-id` header binds `{user_id}` placeholders in scope prefixes. */
export const USER_ID_HEADER = "x-user-id";

export function bindingsOf(request: FastifyRequest): Bindings {
  const userId = request.headers[USER_ID_HEADER];
  // Node joins repeated x- headers with ", ", which is no valid binding: such a call binds nothing.
  return typeof userId === "string" ? { user_id: userId } : {};
}

const accessOf = (request: FastifyRequest): RouteAccess | undefined => request.routeOptions.config?.access;

function callInfo(request: FastifyRequest): CallInfo {
  return {
    authorization: request.headers.authorization,
    clientAddress: rateLimitSubject(request.ip),
    protocol: "http",
    requestId: String(request.id),
  };
}

export function registerSecurity(fastify: FastifyInstance, app: AppContext): void {
  const { security, rateLimiter } = app;
  fastify.decorateRequest("auth", null);

  /**
   * security.check for one target (no target, or no actions: authentication only). A refusal is
   * audited by check itself; an invalid key is also charged to its address (a call without
   * credentials was charged already), and once that budget is spent the answer is 429, as on gRPC.
   */
  const check = async (request: FastifyRequest, operation: string, target?: Target): Promise<Principal> => {
    try {
      return await security.check(callInfo(request), {
        action: target?.action ?? [],
        ...(target ? { bucket: target.bucket } : {}),
        ...(target?.key === undefined ? {} : { key: target.key }),
        ...(target?.versionId === undefined ? {} : { versionId: target.versionId }),
        bindings: bindingsOf(request),
        operation,
      });
    } catch (err) {
      // An unauthenticated request has no request.auth, which already keeps it out of onSend's audit.
      if (request.auth) request.auth.recorded = true;
      if (isStorageError(err) && err.code === "UNAUTHENTICATED" && request.headers.authorization) {
        await rateLimiter.consume(rateLimitSubject(request.ip));
      }
      throw err;
    }
  };

  const noteTarget = (request: FastifyRequest, target: Target | undefined) => {
    if (!request.auth || !target) return;
    request.auth.note = {
      bucket: target.bucket,
      ...(target.key === undefined ? {} : { key: target.key }),
      ...(target.versionId === undefined ? {} : { versionId: target.versionId }),
    };
  };

  fastify.addHook("onRequest", async (request) => {
    const config = request.routeOptions.config;
    if (config?.public) return;
    // No route matched: a caller without a valid key learns nothing, not even that (401 before 404).
    const access: RouteAccess | undefined = request.is404
      ? { operation: "unknown-route", audited: false }
      : accessOf(request);
    if (!access) {
      throw new StorageError(
        "PERMISSION_DENIED",
        "This route declares no access rule, so nobody may call it.",
        {
          route: request.routeOptions.url,
        },
      );
    }
    const { operation } = access;
    if (!request.headers.authorization && !security.disabled) {
      await rateLimiter.consume(rateLimitSubject(request.ip));
    }
    const targets = access.url?.(request) ?? [];
    const first = targets[0];
    // Authenticate (a refusal is audited with the target it was for), charge the key, then
    // authorize each target the URL names: a call refused by scope still spends its key's budget.
    const principal = await check(request, operation, first && { ...first, action: [] });
    request.auth = { principal, note: {}, recorded: false };
    await rateLimiter.consume(
      principal.authDisabled ? rateLimitSubject(request.ip) : `key:${principal.keyId}`,
      principal.rateLimit,
    );
    for (const target of targets) await check(request, operation, target);
    noteTarget(request, targets.at(-1));
  });

  fastify.addHook("preHandler", async (request) => {
    const access = accessOf(request);
    if (!access?.body || !request.auth) return;
    const targets = access.body(request);
    for (const target of targets) await check(request, access.operation, target);
    noteTarget(request, targets.at(-1));
  });

  fastify.addHook("onSend", async (request, reply, payload) => {
    const access = accessOf(request);
    const auth = request.auth;
    if (!access?.audited || !auth || auth.recorded) return payload;
    auth.recorded = true;
    const { note, principal } = auth;
    const ok = reply.statusCode < 400;
    await security.recordAudit({
      keyId: principal.keyId,
      service: principal.service,
      protocol: "http",
      action: access.operation,
      bucket: note.bucket ?? null,
      key: note.key ?? null,
      versionId: note.versionId ?? null,
      result: ok ? "OK" : (auth.failure ?? "INTERNAL"),
      bytes: note.bytes ?? null,
      requestId: String(request.id),
      clientAddress: rateLimitSubject(request.ip),
      ...(note.details ? { details: note.details } : {}),
    });
    return payload;
  });
}

/** The authenticated caller of a /v1 route (handlers run only after the hooks above). */
export function principalOf(request: FastifyRequest): Principal {
  if (!request.auth) {
    throw new StorageError("UNAUTHENTICATED", "Missing credentials: send 'Authorization: Bearer <API key>'.");
  }
  return request.auth.principal;
}
