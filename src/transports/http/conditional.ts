import type { IncomingHttpHeaders } from "node:http";

/**
 * Conditional requests (RFC 9110 §13) evaluated against an object's validators, in the order the
 * RFC prescribes: If-Match, If-Unmodified-Since, If-None-Match, If-Modified-Since. If-Range is
 * answered separately (rangeApplies) because it only decides whether a Range is honoured.
 */

export interface Validators {
  /** A quoted entity tag, as sent in the ETag header. */
  etag: string;
  lastModified: Date;
}

export type Precondition = "proceed" | "not-modified" | "failed";

/** Entity tags are quoted on the wire; backends give them quoted (S3) or bare. */
export const quoteEtag = (etag: string) => (/^(W\/)?".*"$/.test(etag) ? etag : `"${etag}"`);

const opaque = (tag: string) => tag.replace(/^W\//, "");

function tagsIn(header: string): string[] {
  return header.match(/(W\/)?"[^"]*"/g) ?? [];
}

function header(headers: IncomingHttpHeaders, name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value.join(", ") : value;
}

/** HTTP dates have one-second resolution: compare whole seconds. */
const seconds = (ms: number) => Math.floor(ms / 1000);

function parseDate(value: string | undefined): number | undefined {
  if (!value) return undefined;
  const ms = Date.parse(value);
  return Number.isNaN(ms) ? undefined : ms;
}

export function hasPreconditions(headers: IncomingHttpHeaders): boolean {
  return ["if-match", "if-none-match", "if-modified-since", "if-unmodified-since"].some(
    (name) => headers[name] !== undefined,
  );
}

export function evaluatePreconditions(
  method: string,
  headers: IncomingHttpHeaders,
  validators: Validators,
): Precondition {
  const etag = quoteEtag(validators.etag);
  const modified = seconds(validators.lastModified.getTime());
  const safe = method === "GET" || method === "HEAD";

  const ifMatch = header(headers, "if-match");
  if (ifMatch !== undefined) {
    // Strong comparison: a weak tag never matches If-Match.
    const ok = ifMatch.trim() === "*" || tagsIn(ifMatch).some((t) => !t.startsWith("W/") && t === etag);
    if (!ok) return "failed";
  } else {
    const since = parseDate(header(headers, "if-unmodified-since"));
    if (since !== undefined && modified > seconds(since)) return "failed";
  }

  const ifNoneMatch = header(headers, "if-none-match");
  if (ifNoneMatch !== undefined) {
    // Weak comparison for If-None-Match.
    const matches = ifNoneMatch.trim() === "*" || tagsIn(ifNoneMatch).some((t) => opaque(t) === opaque(etag));
    if (matches) return safe ? "not-modified" : "failed";
  } else if (safe) {
    const since = parseDate(header(headers, "if-modified-since"));
    if (since !== undefined && modified <= seconds(since)) return "not-modified";
  }
  return "proceed";
}

/** If-Range: the Range is honoured only when the validator still matches (else send the whole object). */
export function rangeApplies(headers: IncomingHttpHeaders, validators: Validators): boolean {
  const ifRange = header(headers, "if-range")?.trim();
  if (!ifRange) return true;
  if (ifRange.startsWith('"') || ifRange.startsWith("W/")) {
    return !ifRange.startsWith("W/") && ifRange === quoteEtag(validators.etag);
  }
  const date = parseDate(ifRange);
  return date !== undefined && seconds(validators.lastModified.getTime()) === seconds(date);
}
