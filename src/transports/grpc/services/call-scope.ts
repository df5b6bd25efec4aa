import type { Metadata, StatusObject } from "@grpc/grpc-js";
import { StorageError } from "../../../errors.ts";
import type { Logger } from "../../../log.ts";
import type { Security } from "../../../security/index.ts";
import { safeRequestId } from "../../../security/request-id.ts";
import { deadlinePassed } from "../deadline.ts";
import { REQUEST_ID_KEY, toStatus } from "../status.ts";
import { CallGate } from "./gate.ts";

/** The parts of a grpc-js server call a handler's scope needs (all server call kinds have them). */
export interface ServerCallLike {
  readonly metadata: Metadata;
  cancelled: boolean;
  getDeadline(): Date | number;
  getPath(): string;
  getPeer(): string;
  once(event: "cancelled", listener: () => void): unknown;
  removeListener(event: "cancelled", listener: () => void): unknown;
}

export interface CallScope {
  /** Aborts when the call ends early: the client cancelled, its deadline passed, or the server stopped. */
  signal: AbortSignal;
  requestId: string;
  log: Logger;
  /** Authorization (on the first message) and the audit record of a mutating call. */
  gate: CallGate;
  /** The status to send for an error; INTERNAL details are logged here with the request id. */
  status(err: unknown): StatusObject;
  /**
   * The handler has answered (or will not answer): the 'cancelled' grpc-js emits after every call's
   * end is then no cancel, and the signal stays as it is. Call it just before answering.
   */
  answered(): void;
}

/**
 * Per-call state for a handler. grpc-js emits 'cancelled' whenever a call ends, so the signal
 * reaches the core on every early end and the core aborts its multipart upload or download. After
 * a normal finish the same event means nothing: `answered()` stops listening first, so a finished
 * call builds no error (the profile of large transfers showed one built per call).
 */
export function openScope(call: ServerCallLike, logger: Logger, security: Security): CallScope {
  const controller = new AbortController();
  const abort = () => {
    if (controller.signal.aborted) return;
    controller.abort(
      deadlinePassed(call.getDeadline())
        ? new StorageError("DEADLINE_EXCEEDED", "The call's deadline passed.")
        : new StorageError("CANCELLED", "The call was cancelled."),
    );
  };
  if (call.cancelled) abort();
  else call.once("cancelled", abort);
  const answered = () => {
    call.removeListener("cancelled", abort);
  };
  // The logging interceptor has already replaced an unsafe id; checking again keeps a handler
  // safe on a server wired without it.
  const requestId = safeRequestId(call.metadata.get(REQUEST_ID_KEY)[0]);
  const log = logger.child({ requestId, method: call.getPath() });
  return {
    signal: controller.signal,
    requestId,
    log,
    gate: new CallGate(security, call, requestId),
    status: (err) =>
      toStatus(err, (internal) => log.error({ err: internal.cause ?? internal }, "grpc: internal error")),
    answered,
  };
}

/**
 * Handler work still running, so shutdown can wait for cancelled uploads to finish aborting their
 * multipart uploads before the app closes the store and database under them.
 */
export class InFlight {
  readonly #work = new Set<Promise<unknown>>();

  get size(): number {
    return this.#work.size;
  }

  track(work: Promise<unknown>): void {
    const settled = work.then(
      () => {},
      () => {},
    );
    this.#work.add(settled);
    void settled.then(() => this.#work.delete(settled));
  }

  /** Resolves when all tracked work has settled, or after `timeoutMs`; true if it all settled. */
  async drain(timeoutMs: number): Promise<boolean> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<false>((done) => {
      timer = setTimeout(() => done(false), timeoutMs);
    });
    try {
      while (this.#work.size > 0) {
        const settled = await Promise.race([Promise.all(this.#work).then(() => true), timeout]);
        if (!settled) return false;
      }
      return true;
    } finally {
      clearTimeout(timer);
    }
  }
}
