import { randomUUID } from "node:crypto";
import { STATUS_CODES } from "node:http";
import type { Socket } from "node:net";
import { ERROR_CODES, type ErrorCode } from "../../errors.ts";
import { PROBLEM_CONTENT_TYPE, problemType } from "./problem.ts";

/** How long a refused connection may keep sending before it is cut (so the client can read our answer). */
const LINGER_MS = 2_000;

function statusFor(code: string | undefined): { status: number; errorCode: ErrorCode; detail: string } {
  if (code === "HPE_HEADER_OVERFLOW") {
    return {
      status: 431,
      errorCode: "INVALID_ARGUMENT",
      detail: "The request headers exceed HTTP_MAX_HEADER_SIZE.",
    };
  }
  if (code === "ERR_HTTP_REQUEST_TIMEOUT") {
    return {
      status: 408,
      errorCode: "DEADLINE_EXCEEDED",
      detail: "The request headers did not arrive in time.",
    };
  }
  return { status: 400, errorCode: "INVALID_ARGUMENT", detail: "The request is not valid HTTP." };
}

/**
 * Requests Node refuses before Fastify sees them (headers too large or too slow, bad HTTP) still get
 * a problem+json answer. The socket is ended, not destroyed: destroying it with the rest of the
 * request unread makes the kernel send a reset that can overtake the answer.
 */
export function clientErrorHandler(err: Error & { code?: string }, socket: Socket): void {
  if (err.code === "ECONNRESET" || socket.destroyed) return;
  const { status, errorCode, detail } = statusFor(err.code);
  const body = JSON.stringify({
    type: problemType(errorCode),
    title: ERROR_CODES[errorCode],
    status,
    detail,
    code: errorCode,
    requestId: randomUUID(),
    instance: "",
  });
  if (socket.writable) {
    socket.end(
      `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Type: ${PROBLEM_CONTENT_TYPE}\r\n` +
        `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
    );
  }
  socket.resume();
  setTimeout(() => socket.destroy(), LINGER_MS).unref();
}
