import { randomUUID } from "node:crypto";
import { TOKEN_PREFIX } from "./tokens.ts";

/**
 * The one rule, for HTTP's `x-request-id` header and gRPC's `x-request-id` metadata alike, for
 * which caller-supplied request ids are kept. A kept id is echoed to the caller and written into
 * every log line and audit record of the call, so it must be short, free of anything a log or
 * header could choke on, and never a secret: a client that puts its API key in the wrong header
 * must not see it logged in clear. Anything else is replaced by a fresh UUID.
 */

const SAFE = /^[A-Za-z0-9._-]{1,128}$/;
/**
 * The start of an API key token (`lss_<16-char id>_`) anywhere in the value, in any letter case
 * and with no word boundary required: `x_lss_<id>_<secret>` and `LSS_<id>_...` are refused as well.
 * A bare key id (no secret after it) is public and allowed.
 */
const TOKEN_START = new RegExp(`${TOKEN_PREFIX}_[a-z0-9]{16}_`, "i");

/** True when a caller's request id may be used as is. */
export const isSafeRequestId = (value: unknown): value is string =>
  typeof value === "string" && SAFE.test(value) && !TOKEN_START.test(value);

/** The caller's request id when it is safe (see above), else a new UUID. */
export const safeRequestId = (given: unknown): string => (isSafeRequestId(given) ? given : randomUUID());
