import { STATUS_CODES } from "node:http";
import { ERROR_CODES, type ErrorCode } from "../../errors.ts";
import { HTTP_STATUS, problemType } from "./problem.ts";

/**
 * What every operation of the OpenAPI document gets from the shape of its route, so a route added
 * later is documented like the others without anyone remembering to: an operationId, every error
 * status it can answer (problem+json, with the codes behind each), the headers on every response,
 * and the request headers every protected call reads. Routes add what only they know through
 * schema fields read by openapi.ts (`operationId`, `errors`, `requestHeaders`, `responseHeaders`).
 */

type Json = Record<string, unknown>;

/** The route facts the document derives from. */
export interface RouteShape {
  method: string;
  url: string;
  /** `config.access.operation`, for routes that need a key. */
  operation: string | undefined;
  /** True for routes that need no key (`config.public`). */
  isPublic: boolean;
  /** The route names targets in its JSON body (copy, presign): those may not exist. */
  bodyTargets: boolean;
  hasJsonBody: boolean;
  hasStreamedBody: boolean;
  /** Codes the route itself declares it can answer with (schema.errors). */
  declared: readonly ErrorCode[];
}

const camel = (words: string[]): string =>
  words
    .filter(Boolean)
    .map((w, i) => (i === 0 ? w.toLowerCase() : w.charAt(0).toUpperCase() + w.slice(1).toLowerCase()))
    .join("");

/**
 * An operation's id unless the route gives one: its audited operation name ("audit.query" →
 * auditQuery), else method and path (GET /healthz → getHealthz). Start-up refuses duplicates
 * (see assertUniqueOperationIds), so two routes of one operation must name themselves.
 */
export function deriveOperationId(route: RouteShape): string {
  if (route.operation) return camel(route.operation.split(/[^A-Za-z0-9]+/));
  return camel([route.method, ...route.url.split(/[^A-Za-z0-9]+/)]);
}

/** Every error code the route can answer with, derived from its kind, plus what it declares. */
export function routeErrors(route: RouteShape): ErrorCode[] {
  // Any request may be malformed (a path that does not decode, a bad parameter), and any may fail.
  const codes = new Set<ErrorCode>(["INVALID_ARGUMENT", "INTERNAL"]);
  if (!route.isPublic) {
    // Keys are checked, scopes judged and rates limited before the handler; keys live in the database.
    for (const code of ["UNAUTHENTICATED", "PERMISSION_DENIED", "RATE_LIMITED", "UNAVAILABLE"] as const) {
      codes.add(code);
    }
  }
  if (route.hasJsonBody) {
    // Fastify's body limit and content-type parser.
    codes.add("TOO_LARGE");
    codes.add("UNSUPPORTED_TYPE");
  }
  if (route.hasStreamedBody) {
    // Size limit, content checks, announced size/sha256, and admission control for uploads.
    for (const code of ["TOO_LARGE", "UNSUPPORTED_TYPE", "PRECONDITION_FAILED", "OVERLOADED"] as const) {
      codes.add(code);
    }
  }
  // A bucket, object or key named in the path or body may not exist.
  if (route.url.includes(":") || route.url.includes("*") || route.bodyTargets) codes.add("NOT_FOUND");
  for (const code of route.declared) codes.add(code);
  return [...codes];
}

/** Header catalogue: one description per header, used for requests and responses alike. */
export const HEADERS = {
  "x-request-id": "Request id (1-128 of `[A-Za-z0-9._-]`); the server answers with its own when absent.",
  "x-user-id": "The end user this call acts for: binds `{user_id}` in the key's scope prefixes.",
  etag: "The object's ETag, quoted; pass it to If-Match / If-None-Match.",
  "last-modified": "When this version was written (HTTP date).",
  "x-version-id": 'The version written or read ("null" when the bucket is not versioned).',
  "x-checksum-sha256": "Hex sha256 of the whole object.",
  "x-meta-{name}": "User metadata, one `x-meta-<name>` header per entry (names lower-case).",
  "accept-ranges": "Always `bytes`.",
  "content-length": "The number of bytes in the body.",
  "content-range": "`bytes a-b/size` for a 206; `bytes */size` for a 416.",
  "content-disposition": "`attachment; filename=...` when `download` is given or the type is active content.",
  "x-delete-marker": "`true` when the delete left a delete marker (versioned buckets).",
  location: "The URL of the stored object.",
  range: "One byte range: `bytes=a-b`, `bytes=a-` or `bytes=-n` (the last n bytes).",
  "if-match": "Answer only if the object's current ETag is this one (else 412).",
  "if-none-match": "GET/HEAD: 304 when the ETag matches.",
  "if-modified-since": "GET/HEAD: 304 when not modified since (HTTP date).",
  "if-unmodified-since": "412 when modified since (HTTP date).",
  "if-range": "Apply Range only if this ETag or date still matches; else the whole object.",
  "x-amz-server-side-encryption-customer-algorithm": "SSE-C: `AES256`.",
  "x-amz-server-side-encryption-customer-key": "SSE-C: the object's key, base64 of 32 bytes; never stored.",
  "x-amz-server-side-encryption-customer-key-md5": "SSE-C: base64 MD5 of the key.",
  "retry-after": "Seconds to wait before retrying.",
  "www-authenticate": 'Bearer realm="lumenslate-storage".',
} as const;

export type HeaderName = keyof typeof HEADERS;

const header = (name: HeaderName): Json => ({ description: HEADERS[name], type: "string" });

/** Request headers of a protected operation, as a JSON Schema `headers` object for @fastify/swagger. */
export function requestHeaderSchema(
  existing: Json | undefined,
  route: RouteShape,
  extra: readonly HeaderName[],
): Json {
  const names: HeaderName[] = ["x-request-id", ...(route.isPublic ? [] : ["x-user-id" as const]), ...extra];
  const properties = { ...((existing?.properties as Json | undefined) ?? {}) };
  for (const name of names) properties[name] ??= header(name);
  return { type: "object", ...existing, properties };
}

/** Headers every answer with `status` carries, beside those the route declares for it. */
function responseHeaderNames(status: string, declared: readonly HeaderName[]): HeaderName[] {
  const names: HeaderName[] = ["x-request-id", ...declared];
  if (status === "401") names.push("www-authenticate");
  if (status === "429" || status === "503") names.push("retry-after");
  if (status === "416") names.push("content-range");
  return names;
}

/** Read by @fastify/swagger as the response's description (else "Default Response"). */
const RESPONSE_DESCRIPTION = "x-response-description";

const EXAMPLE_REQUEST_ID = "6f1c2d3e-4b5a-4c6d-8e9f-0a1b2c3d4e5f";

/**
 * The route's converted responses with one described entry per error status (replacing the
 * `4xx`/`5xx` placeholders), and the headers each response carries. `problem` is the converted
 * problem+json content. Entries the route wrote itself are kept.
 */
export function completeResponses(
  responses: Json,
  route: RouteShape,
  problem: Json,
  declaredHeaders: Partial<Record<string, readonly HeaderName[]>>,
): Json {
  const out: Json = {};
  for (const [status, entry] of Object.entries(responses)) {
    if (!/^[45]xx$/i.test(status)) out[status] = entry;
  }
  const byStatus = new Map<number, ErrorCode[]>();
  for (const code of routeErrors(route)) {
    const status = HTTP_STATUS[code];
    byStatus.set(status, [...(byStatus.get(status) ?? []), code]);
  }
  for (const [status, codes] of [...byStatus].sort(([a], [b]) => a - b)) {
    if (out[String(status)]) continue;
    const first = codes[0] as ErrorCode;
    const example = {
      type: problemType(first),
      title: ERROR_CODES[first],
      status,
      detail: ERROR_CODES[first],
      code: first,
      requestId: EXAMPLE_REQUEST_ID,
      instance: route.url.replace(/:(\w+)/g, "$1").replace("*", "key"),
    };
    const content = Object.fromEntries(
      Object.entries(problem).map(([type, media]) => [type, { ...(media as Json), example }]),
    );
    out[String(status)] = {
      description: codes.map((code) => `${code}: ${ERROR_CODES[code]}`).join(" "),
      content,
    };
  }
  for (const [status, entry] of Object.entries(out)) {
    const names = responseHeaderNames(status, declaredHeaders[status] ?? []);
    const headers = { ...(((entry as Json).headers as Json | undefined) ?? {}) };
    for (const name of names) headers[name] ??= header(name);
    // A $ref entry's description is read beside the $ref; other entries use swagger's own key.
    const key = "$ref" in (entry as Json) ? "description" : RESPONSE_DESCRIPTION;
    const described = (entry as Json).description ? {} : { [key]: STATUS_CODES[status] };
    out[status] = { ...(entry as Json), headers, ...described };
  }
  return out;
}

/** Fails when two documented operations share an operationId (generators need them unique). */
export function assertUniqueOperationIds(document: {
  paths?: Record<string, Record<string, unknown>>;
}): void {
  const seen = new Map<string, string>();
  for (const [path, item] of Object.entries(document.paths ?? {})) {
    for (const [method, op] of Object.entries(item)) {
      const id = (op as { operationId?: string }).operationId;
      if (!id) throw new Error(`OpenAPI: ${method.toUpperCase()} ${path} has no operationId.`);
      const other = seen.get(id);
      if (other) {
        throw new Error(
          `OpenAPI: ${method.toUpperCase()} ${path} and ${other} share the operationId "${id}"; ` +
            "give one of them schema.operationId.",
        );
      }
      seen.set(id, `${method.toUpperCase()} ${path}`);
    }
  }
}
