import type { IncomingHttpHeaders } from "node:http";
import type { ObjectInfo } from "../../core/types.ts";
import { quoteEtag } from "./conditional.ts";

/** User metadata travels as `x-meta-<name>` headers, both ways. */
export const META_PREFIX = "x-meta-";
export const CHECKSUM_HEADER = "x-checksum-sha256";
export const VERSION_HEADER = "x-version-id";

export function metadataFromHeaders(headers: IncomingHttpHeaders): Record<string, string> {
  const metadata: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (!name.startsWith(META_PREFIX) || value === undefined) continue;
    metadata[name.slice(META_PREFIX.length)] = Array.isArray(value) ? value.join(", ") : value;
  }
  return metadata;
}

/** The headers that describe a stored object (GET, HEAD, 304 and upload responses). */
export function objectHeaders(info: ObjectInfo): Record<string, string> {
  const headers: Record<string, string> = {
    etag: quoteEtag(info.etag),
    "last-modified": info.lastModified.toUTCString(),
    [VERSION_HEADER]: info.versionId,
  };
  if (info.sha256) headers[CHECKSUM_HEADER] = info.sha256;
  for (const [name, value] of Object.entries(info.metadata)) {
    // Objects written around the service may carry values a header cannot; leave those out.
    if (/^[a-z0-9_-]+$/.test(name) && /^[\x20-\x7e]*$/.test(value)) headers[META_PREFIX + name] = value;
  }
  return headers;
}

/** The last path segment of a key, the natural download name. */
export const baseName = (key: string) => key.slice(key.lastIndexOf("/") + 1) || key;

/** RFC 5987 attr-char: everything else in a filename* value is percent-encoded. */
const encodeExtValue = (value: string) =>
  encodeURIComponent(value).replace(/['()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);

/**
 * `Content-Disposition: attachment` with an ASCII fallback `filename` for old clients and the exact
 * name as UTF-8 in `filename*` (RFC 6266). The fallback replaces anything outside printable ASCII,
 * quotes and backslashes, so the header can never be broken out of.
 */
export function contentDisposition(filename: string): string {
  const fallback = filename.replace(/[^\x20-\x7e]|["\\%]/g, "_");
  return `attachment; filename="${fallback}"; filename*=UTF-8''${encodeExtValue(filename)}`;
}

/** The API path of an object, each key segment percent-encoded (for Location headers). */
export const objectPath = (bucket: string, key: string) =>
  `/v1/buckets/${encodeURIComponent(bucket)}/objects/${key.split("/").map(encodeURIComponent).join("/")}`;
