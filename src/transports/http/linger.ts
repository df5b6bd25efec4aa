import type { IncomingMessage } from "node:http";

/** How long a refused upload's client may keep sending after our answer before the socket is cut. */
export const LINGER_MS = 3_000;

/**
 * Lingering close for a response sent before the request body was read (a refused upload). Node
 * closes a `Connection: close` socket as soon as the response is flushed; with the client's bytes
 * still unread the kernel then sends a reset, which can reach the client before it has read the
 * answer. Instead: half-close (FIN after the response), discard what still arrives, and cut the
 * socket when the client closes or after LINGER_MS, whichever comes first.
 */
export function lingerAfterResponse(req: IncomingMessage): void {
  const socket = req.socket;
  if (!socket || socket.destroyed) return;
  socket.destroySoon = () => {
    if (socket.writable) socket.end();
    req.unpipe();
    req.resume();
    const timer = setTimeout(() => socket.destroy(), LINGER_MS);
    timer.unref();
    socket.once("end", () => socket.destroy());
    socket.once("close", () => clearTimeout(timer));
  };
}
