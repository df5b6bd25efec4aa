import { StorageError } from "../errors.ts";

/**
 * Scopes: what an API key may do. A scope is a bucket (or "*") × an optional key prefix × a set of
 * actions. A prefix may hold placeholders such as `{user_id}`, each a whole path segment, bound per
 * call (`bindings`): the scope `user-data/users/{user_id}/:read` lets a caller acting for alice read
 * `users/alice/...` only. `admin` implies every other action within its scope; service-wide
 * operations (key management, audit, bootstrap) need `admin` on `*` with no prefix.
 *
 * `authorize` is a pure function of the principal and the request, so both servers run exactly the
 * same check, before they touch the body or the backend: a refusal therefore looks the same whether
 * or not the object exists.
 */

export const ACTIONS = ["read", "write", "delete", "list", "presign", "admin"] as const;
export type Action = (typeof ACTIONS)[number];

export interface Scope {
  /** A bucket name as callers address it, or "*" for every bucket. */
  bucket: string;
  /** "" for the whole bucket; else a key prefix, possibly with `{name}` placeholders. */
  prefix: string;
  actions: Action[];
}

export type Bindings = Readonly<Record<string, string>>;

/** Who is calling: an authenticated API key (or the open principal when AUTH_DISABLED=true). */
export interface Principal {
  keyId: string;
  service: string;
  scopes: readonly Scope[];
  /** Requests per rate-limit window for this key; undefined uses RATE_LIMIT_REQUESTS. */
  rateLimit?: number;
  /** Only on the principal of a service running with AUTH_DISABLED=true. */
  authDisabled?: true;
}

const invalid = (message: string) => new StorageError("INVALID_ARGUMENT", message, { field: "scope" });

const PLACEHOLDER = /\{([a-z][a-z0-9_]{0,31})\}/g;
const BUCKET = /^(\*|[a-z0-9][a-z0-9.-]{1,61}[a-z0-9])$/;
/** What a bound value may be: one safe path segment (no '/', not '.' or '..'). */
const BINDING_VALUE = /^[A-Za-z0-9][A-Za-z0-9._@+=-]{0,127}$/;

const hasControlCharacter = (text: string) => [...text].some((c) => c.charCodeAt(0) < 0x20 || c === "\u007f");

const isAction = (text: string): text is Action => (ACTIONS as readonly string[]).includes(text);

/** Checks a scope and puts it in canonical form (sorted unique actions, placeholder segments closed by '/'). */
export function normaliseScope(scope: Scope): Scope {
  const bucket = scope.bucket.trim();
  if (!BUCKET.test(bucket)) throw invalid(`Scope bucket '${bucket}' is not a bucket name or "*".`);
  let prefix = scope.prefix;
  if (prefix.startsWith("/")) throw invalid("A scope prefix must not start with '/'.");
  // Wildcards and policy variables would widen the STS session policies built from scopes.
  if (/[*?$\\]/.test(prefix) || hasControlCharacter(prefix)) {
    throw invalid("A scope prefix must not contain '*', '?', '$', '\\' or control characters.");
  }
  const segments = prefix.split("/");
  if (segments.some((s, i) => s === "." || s === ".." || (s === "" && i < segments.length - 1))) {
    throw invalid("A scope prefix must not contain '.', '..' or empty segments.");
  }
  for (const segment of segments) {
    const stripped = segment.replace(PLACEHOLDER, "");
    if (/[{}]/.test(stripped)) throw invalid(`Malformed placeholder in scope prefix '${prefix}'.`);
    if (stripped !== segment && !/^\{[a-z][a-z0-9_]*\}$/.test(segment)) {
      throw invalid(
        `A placeholder must be a whole path segment, as in 'users/{user_id}/' (got '${segment}').`,
      );
    }
  }
  // "users/{user_id}" means the user's folder: close it, or alice's scope would cover "alice2/".
  if (prefix.endsWith("}")) prefix += "/";
  if (scope.actions.length === 0) throw invalid("A scope needs at least one action.");
  for (const action of scope.actions) {
    if (!isAction(action))
      throw invalid(`Unknown action '${action}' (expected one of ${ACTIONS.join(", ")}).`);
  }
  const actions = ACTIONS.filter((a) => scope.actions.includes(a));
  return { bucket, prefix, actions };
}

/**
 * Parses `bucket[/prefix]:actions`, e.g. `user-data/users/{user_id}/:read,write,list`,
 * `model-artifacts:read`, `*:admin`. Actions are comma-separated; `*` means all of them.
 */
export function parseScope(text: string): Scope {
  const colon = text.lastIndexOf(":");
  if (colon <= 0) throw invalid(`Scope '${text}' must look like bucket[/prefix]:action,action.`);
  const target = text.slice(0, colon).trim();
  const actionText = text.slice(colon + 1).trim();
  const slash = target.indexOf("/");
  const bucket = slash < 0 ? target : target.slice(0, slash);
  const prefix = slash < 0 ? "" : target.slice(slash + 1);
  const actions =
    actionText === "*"
      ? [...ACTIONS]
      : actionText
          .split(",")
          .map((a) => a.trim().toLowerCase())
          .filter(Boolean);
  return normaliseScope({ bucket, prefix, actions: actions as Action[] });
}

export const formatScope = (scope: Scope): string =>
  `${scope.bucket}${scope.prefix ? `/${scope.prefix}` : ""}:${scope.actions.join(",")}`;

/** Placeholder names a scope expects to be bound. */
export const placeholdersOf = (scope: Scope): string[] =>
  [...scope.prefix.matchAll(PLACEHOLDER)].map((m) => m[1] as string);

/** The prefix with its placeholders bound; undefined when a binding is missing or unsafe. */
export function expandPrefix(prefix: string, bindings: Bindings): string | undefined {
  let ok = true;
  const expanded = prefix.replace(PLACEHOLDER, (_, name: string) => {
    const value = Object.hasOwn(bindings, name) ? bindings[name] : undefined;
    if (value === undefined || !BINDING_VALUE.test(value)) ok = false;
    return value ?? "";
  });
  return ok ? expanded : undefined;
}

/**
 * Whether one scope covers one action on a target. `bucket` undefined means a service-wide
 * operation; `key` is the object key, or the prefix of a listing (it must lie inside the scope's
 * prefix too, so a listing cannot reveal names outside it).
 */
export function scopeCovers(
  scope: Scope,
  action: Action,
  bucket: string | undefined,
  key: string | undefined,
  bindings: Bindings = {},
): boolean {
  if (!scope.actions.includes(action) && !scope.actions.includes("admin")) return false;
  if (bucket === undefined) return scope.bucket === "*" && scope.prefix === "";
  if (scope.bucket !== "*" && scope.bucket !== bucket) return false;
  if (scope.prefix === "") return true;
  if (key === undefined) return false;
  const prefix = expandPrefix(scope.prefix, bindings);
  return prefix !== undefined && key.startsWith(prefix);
}

/** Whether the principal may do every one of `actions` on the target. */
export function isAllowed(
  principal: Principal,
  actions: Action | readonly Action[],
  bucket?: string,
  key?: string,
  bindings: Bindings = {},
): boolean {
  const wanted: readonly Action[] = typeof actions === "string" ? [actions] : actions;
  return wanted.every((action) =>
    principal.scopes.some((s) => scopeCovers(s, action, bucket, key, bindings)),
  );
}

/**
 * Throws PERMISSION_DENIED unless the principal may do every one of `actions` on the target. The
 * message names only what the caller asked for, never anything about stored objects. Presigning
 * needs the underlying action too: `["presign", "read"]` for GET, `["presign", "write"]` for PUT.
 */
export function authorize(
  principal: Principal,
  actions: Action | readonly Action[],
  bucket?: string,
  key?: string,
  bindings: Bindings = {},
): void {
  if (isAllowed(principal, actions, bucket, key, bindings)) return;
  const list = typeof actions === "string" ? actions : actions.join("+");
  const where =
    bucket === undefined ? "on this service" : key === undefined ? "in this bucket" : "at this key";
  throw new StorageError("PERMISSION_DENIED", `The API key may not ${list} ${where}.`, {
    action: list,
    ...(bucket === undefined ? {} : { bucket }),
    ...(key === undefined ? {} : { key }),
  });
}

/** Scopes of the first-start admin key and of the open principal. */
export const FULL_ACCESS: readonly Scope[] = [{ bucket: "*", prefix: "", actions: ["admin"] }];
