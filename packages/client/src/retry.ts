import { setTimeout as sleep } from "node:timers/promises";
import { status } from "@grpc/grpc-js";
import {
  clientError,
  type ErrorCode,
  RETRYABLE_CODES,
  type StorageClientError,
  toClientError,
} from "./errors.ts";

/**
 * When and how long to wait before trying a failed call again (the Python package's RetryPolicy,
 * in milliseconds).
 *
 * Only failures that say "try later" are retried: UNAVAILABLE (the service or its object store is
 * unreachable, or restarting), RATE_LIMITED and OVERLOADED. Anything else (NOT_FOUND, TOO_LARGE, a
 * broken sha256, DEADLINE_EXCEEDED, ...) fails the same way every time, or has no time left. The
 * client retries only calls that can be replayed: stat, list, delete, copy, getUrl, downloads
 * until their stream is handed over, and uploads whose bytes it can send again (a Buffer, a
 * string, a file path); a one-shot stream is never retried.
 */

/** Passed to `onRetry` before each wait: the attempt that failed (1-based), its error and the wait. */
export interface RetryEvent {
  /** The gRPC method, e.g. "UploadFile". */
  method: string;
  attempt: number;
  error: StorageClientError;
  delayMs: number;
}

export interface RetryOptions {
  /** Tries in all; 1 disables retries. Default 5. */
  maxAttempts?: number;
  /**
   * Attempt n waits a random time in [0, min(maxBackoffMs, initialBackoffMs * multiplier^(n-1))]
   * ("full jitter"). Defaults 200 ms, 10 s, 2.
   */
  initialBackoffMs?: number;
  maxBackoffMs?: number;
  multiplier?: number;
  /** A retry-after longer than this is not waited for; the error is raised. Default 60 s. */
  maxRetryAfterMs?: number;
  /** Default RETRYABLE_CODES. */
  retryableCodes?: readonly ErrorCode[];
  /** Called before each wait (for logs or metrics). */
  onRetry?: (event: RetryEvent) => void;
}

/** Exponential backoff with full jitter, honouring the service's retry-after. */
export class RetryPolicy {
  readonly maxAttempts: number;
  readonly initialBackoffMs: number;
  readonly maxBackoffMs: number;
  readonly multiplier: number;
  readonly maxRetryAfterMs: number;
  readonly retryableCodes: readonly ErrorCode[];
  readonly onRetry: ((event: RetryEvent) => void) | undefined;

  constructor(options: RetryOptions = {}) {
    this.maxAttempts = options.maxAttempts ?? 5;
    this.initialBackoffMs = options.initialBackoffMs ?? 200;
    this.maxBackoffMs = options.maxBackoffMs ?? 10_000;
    this.multiplier = options.multiplier ?? 2;
    this.maxRetryAfterMs = options.maxRetryAfterMs ?? 60_000;
    this.retryableCodes = Object.freeze([...(options.retryableCodes ?? RETRYABLE_CODES)]);
    this.onRetry = options.onRetry;
    if (!Number.isInteger(this.maxAttempts) || this.maxAttempts < 1) {
      throw new RangeError("retry.maxAttempts must be an integer of at least 1.");
    }
    const backoffs = [this.initialBackoffMs, this.maxBackoffMs, this.maxRetryAfterMs];
    if (backoffs.some((ms) => !(ms >= 0)) || !(this.multiplier >= 1)) {
      throw new RangeError("retry backoff values must be >= 0 ms and retry.multiplier >= 1.");
    }
  }

  /** Milliseconds to wait after failed attempt `attempt` (1-based), or undefined to give up. */
  delay(attempt: number, error: StorageClientError): number | undefined {
    if (attempt >= this.maxAttempts || !this.retryableCodes.includes(error.code)) return undefined;
    const ceiling = Math.min(this.maxBackoffMs, this.initialBackoffMs * this.multiplier ** (attempt - 1));
    if (error.retryAfterSeconds !== undefined) {
      const retryAfterMs = error.retryAfterSeconds * 1000;
      if (retryAfterMs > this.maxRetryAfterMs) return undefined;
      // The service knows when its budget refills: wait at least that, plus a little jitter so
      // that clients told the same time do not all come back at once.
      return retryAfterMs + Math.random() * Math.min(1000, ceiling);
    }
    return Math.random() * ceiling;
  }
}

export interface RetryScope {
  /** Asked after each failure: may this call be sent again (e.g. nothing handed to the caller yet)? */
  canRetry: () => boolean;
  /** Absolute deadline (ms since the epoch) of the whole call, every attempt and wait included. */
  deadline: number | undefined;
  signal: AbortSignal | undefined;
}

/** Runs `attempt` until it succeeds or `policy` gives up; rejects with the last StorageClientError. */
export async function retrying<T>(
  method: string,
  policy: RetryPolicy,
  scope: RetryScope,
  attempt: () => Promise<T>,
): Promise<T> {
  for (let tries = 1; ; tries++) {
    let error: StorageClientError;
    try {
      return await attempt();
    } catch (err) {
      error = toClientError(err);
    }
    const delayMs = scope.canRetry() ? policy.delay(tries, error) : undefined;
    // The deadline covers all attempts: a wait that would end past it is not started.
    if (delayMs === undefined || (scope.deadline !== undefined && Date.now() + delayMs >= scope.deadline)) {
      throw error;
    }
    policy.onRetry?.({ method, attempt: tries, error, delayMs });
    try {
      await sleep(delayMs, undefined, scope.signal ? { signal: scope.signal } : {});
    } catch (err) {
      throw clientError("CANCELLED", "The call was cancelled while waiting to retry.", {
        grpcCode: status.CANCELLED,
        requestId: error.requestId,
        cause: err,
      });
    }
  }
}
