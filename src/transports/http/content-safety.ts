import type { FastifyReply } from "fastify";
import { baseName, contentDisposition } from "./headers.ts";

/**
 * Objects are served with the Content-Type their uploader declared, on the API's own origin. A
 * browser that opens such a URL would run an uploaded HTML page or SVG with script as if the
 * service had written it (stored XSS), so every object response carries:
 * - `X-Content-Type-Options: nosniff`, so a browser takes the declared type as it is and never
 *   guesses HTML or script from the bytes;
 * - a CSP with `sandbox` (no scripts, forms, plugins or same-origin access even if it renders) and
 *   `default-src 'none'` (no subresources); inline styles stay allowed because browsers style their
 *   own image and media viewers with them;
 * - `Content-Disposition: attachment` for types a browser would execute, unless the bucket is listed
 *   in HTTP_INLINE_ACTIVE_CONTENT_BUCKETS (it still gets nosniff and the sandbox).
 */
export const OBJECT_CSP = "default-src 'none'; style-src 'unsafe-inline'; sandbox";

/** Essences browsers render as documents that can run script, or load as a script or plugin. */
const ACTIVE = new Set([
  "text/html",
  "application/xhtml+xml",
  "image/svg+xml",
  "text/xml",
  "application/xml",
  "text/xsl",
  "application/x-shockwave-flash",
  "application/futuresplash",
  "text/vnd.wap.wml",
  // Each part is rendered as its own type, so it can smuggle HTML.
  "multipart/x-mixed-replace",
  // Essences the MIME sniffing standard still sniffs (nosniff or not).
  "unknown/unknown",
  "application/unknown",
  "*/*",
]);

/** RFC 9110 token characters, for type and subtype. */
const TOKEN = /^[!#$%&'*+.^_`|~0-9a-z-]+$/;

/**
 * Whether a browser may execute content of this type: HTML, XHTML, SVG and any other XML (which can
 * embed XHTML), JavaScript and ECMAScript under any of their names, plugins, and types a browser
 * would sniff. Matched on the media type alone, case-insensitively; parameters are ignored. A value
 * that does not parse as `type/subtype` counts as active, since browsers treat it as missing.
 */
export function isActiveContentType(contentType: string | undefined): boolean {
  const essence = (contentType ?? "").split(";", 1)[0]?.trim().toLowerCase() ?? "";
  const [type, subtype, extra] = essence.split("/");
  if (!type || !subtype || extra !== undefined || !TOKEN.test(type) || !TOKEN.test(subtype)) return true;
  if (ACTIVE.has(essence)) return true;
  if (subtype.endsWith("+xml")) return true;
  return /(java|ecma|j|live|vb)script/.test(subtype);
}

/**
 * The safety headers of an object response, with Content-Disposition: `download` (the `?download=`
 * query) asks for an attachment with that name ("" for the key's last segment); an active type is
 * an attachment even when nobody asked, unless its bucket serves active content inline.
 */
export function applyContentSafety(
  reply: FastifyReply,
  object: { key: string; contentType: string },
  download: string | undefined,
  inlineActive: boolean,
): void {
  reply.header("x-content-type-options", "nosniff").header("content-security-policy", OBJECT_CSP);
  const forced = !inlineActive && isActiveContentType(object.contentType);
  if (download !== undefined || forced) {
    reply.header("content-disposition", contentDisposition(download || baseName(object.key)));
  }
}
