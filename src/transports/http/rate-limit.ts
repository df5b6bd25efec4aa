/**
 * The limiter subject for a client address: the bare IP, IPv4-mapped IPv6 unwrapped. The gRPC
 * server charges the same subject, so one caller has one budget whichever protocol it uses. The
 * address is the socket's peer: X-Forwarded-For is not trusted (no proxy is configured to vouch
 * for it). Which calls are charged to an address and which to an API key: see auth.ts.
 */
export const rateLimitSubject = (address: string) =>
  address.startsWith("::ffff:") ? address.slice(7) : address;
