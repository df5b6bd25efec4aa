import type { IncomingMessage } from "node:http";
import { safeRequestId } from "../../security/request-id.ts";

export const REQUEST_ID_HEADER = "x-request-id";

/**
 * The caller's x-request-id when it is safe to echo and log (the rule gRPC applies too, see
 * security/request-id.ts), else a fresh UUID. A repeated header counts as its first value.
 */
export function requestIdFor(req: IncomingMessage): string {
  const header = req.headers[REQUEST_ID_HEADER];
  return safeRequestId(Array.isArray(header) ? header[0] : header);
}
