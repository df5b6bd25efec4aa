/**
 * Addresses for `serve` to record in the data-directory lock, for a CLI on the same host to dial.
 * A wildcard bind (all interfaces) is no address to connect to, and the one Fastify reports for it is
 * whichever interface it lists first; loopback reaches such a server from the same host.
 */
function loopbackFor(host: string): string | undefined {
  const bare = host.replace(/^\[(.*)\]$/, "$1");
  if (bare === "" || bare === "0.0.0.0") return "127.0.0.1";
  if (/^[0:]+$/.test(bare)) return "[::1]"; // "::", "::0", "0:0:0:0:0:0:0:0"
  return undefined;
}

/** The HTTP base URL (no path) for a server that reports `listening` and is bound to `boundHost`. */
export function localHttpUrl(listening: string, boundHost: string): string {
  const url = new URL(listening);
  const loopback = loopbackFor(boundHost);
  if (loopback) url.hostname = loopback;
  return url.origin;
}

/** The gRPC `host:port` for a server that reports `listening` (host:port) and is bound to `boundHost`. */
export function localGrpcAddress(listening: string, boundHost: string): string {
  const loopback = loopbackFor(boundHost);
  return loopback ? `${loopback}:${listening.slice(listening.lastIndexOf(":") + 1)}` : listening;
}
