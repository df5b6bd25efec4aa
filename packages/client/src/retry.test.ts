import { status } from "@grpc/grpc-js";
import { describe, expect, it } from "vitest";
import { clientError, type ErrorCode, NotFoundError, type StorageClientError } from "./errors.ts";
import { type RetryEvent, RetryPolicy, retrying } from "./retry.ts";

const failed = (code: ErrorCode, retryAfterSeconds?: number): StorageClientError =>
  clientError(code, "no", { grpcCode: status.UNKNOWN, retryAfterSeconds });

describe("RetryPolicy", () => {
  it("waits a jittered, growing, capped time, for retryable codes only (as the Python package)", () => {
    const policy = new RetryPolicy({
      maxAttempts: 4,
      initialBackoffMs: 100,
      maxBackoffMs: 300,
      multiplier: 2,
    });
    const unavailable = failed("UNAVAILABLE");
    for (const [attempt, ceiling] of [
      [1, 100],
      [2, 200],
      [3, 300],
    ] as const) {
      const delays = Array.from({ length: 200 }, () => policy.delay(attempt, unavailable));
      expect(delays.every((d) => d !== undefined && d >= 0 && d <= ceiling)).toBe(true);
      expect(new Set(delays).size).toBeGreaterThan(1); // jittered
    }
    expect(policy.delay(4, unavailable)).toBeUndefined(); // out of attempts
    expect(policy.delay(1, failed("RATE_LIMITED"))).toBeDefined();
    expect(policy.delay(1, failed("OVERLOADED"))).toBeDefined();
    const final: ErrorCode[] = [
      "NOT_FOUND",
      "PERMISSION_DENIED",
      "TOO_LARGE",
      "PRECONDITION_FAILED",
      "INTERNAL",
      "DEADLINE_EXCEEDED",
      "CANCELLED",
      "DATA_CORRUPTED",
    ];
    for (const code of final) expect(policy.delay(1, failed(code)), code).toBeUndefined();
  });

  it("honours the service's retry-after, up to maxRetryAfterMs", () => {
    const policy = new RetryPolicy({ initialBackoffMs: 100 });
    const told = failed("RATE_LIMITED", 1.5);
    const delays = Array.from({ length: 50 }, () => policy.delay(1, told) ?? -1);
    expect(delays.every((d) => d >= 1500 && d <= 1600)).toBe(true);
    expect(policy.delay(1, failed("OVERLOADED", 3600))).toBeUndefined(); // beyond the 60 s default
  });

  it("refuses settings that cannot work", () => {
    expect(() => new RetryPolicy({ maxAttempts: 0 })).toThrow(RangeError);
    expect(() => new RetryPolicy({ maxAttempts: 1.5 })).toThrow(RangeError);
    expect(() => new RetryPolicy({ initialBackoffMs: -1 })).toThrow(RangeError);
    expect(() => new RetryPolicy({ maxBackoffMs: Number.NaN })).toThrow(RangeError);
    expect(() => new RetryPolicy({ multiplier: 0.5 })).toThrow(RangeError);
  });
});

describe("retrying", () => {
  const fast = (events: RetryEvent[], maxAttempts = 5) =>
    new RetryPolicy({ maxAttempts, initialBackoffMs: 1, maxBackoffMs: 5, onRetry: (e) => events.push(e) });
  const scope = { canRetry: () => true, deadline: undefined, signal: undefined };

  /** An attempt that fails with `codes` in turn, then resolves with the number of attempts. */
  const failing = (...codes: ErrorCode[]) => {
    let calls = 0;
    return async () => {
      const code = codes[calls++];
      if (code) throw failed(code);
      return calls;
    };
  };

  it("tries again after retryable failures and reports each wait", async () => {
    const events: RetryEvent[] = [];
    expect(await retrying("StatFile", fast(events), scope, failing("UNAVAILABLE", "OVERLOADED"))).toBe(3);
    expect(events.map((e) => [e.method, e.attempt, e.error.code])).toEqual([
      ["StatFile", 1, "UNAVAILABLE"],
      ["StatFile", 2, "OVERLOADED"],
    ]);
    expect(events.every((e) => e.delayMs >= 0 && e.delayMs <= 5)).toBe(true);
  });

  it("rejects with the first final error, and with the last one when attempts run out", async () => {
    const events: RetryEvent[] = [];
    await expect(retrying("StatFile", fast(events), scope, failing("NOT_FOUND"))).rejects.toBeInstanceOf(
      NotFoundError,
    );
    expect(events).toEqual([]);
    const tries = failing("UNAVAILABLE", "UNAVAILABLE", "UNAVAILABLE");
    await expect(retrying("StatFile", fast(events, 3), scope, tries)).rejects.toMatchObject({
      code: "UNAVAILABLE",
    });
    expect(events.map((e) => e.attempt)).toEqual([1, 2]);
  });

  it("never retries a call that cannot be replayed", async () => {
    const events: RetryEvent[] = [];
    const once = { ...scope, canRetry: () => false };
    await expect(retrying("UploadFile", fast(events), once, failing("UNAVAILABLE"))).rejects.toMatchObject({
      code: "UNAVAILABLE",
    });
    expect(events).toEqual([]);
  });

  it("does not start a wait that would end past the call's deadline", async () => {
    const events: RetryEvent[] = [];
    const policy = new RetryPolicy({
      initialBackoffMs: 60_000,
      maxBackoffMs: 60_000,
      onRetry: (e) => events.push(e),
    });
    // Full jitter may draw a tiny wait: an already-passed deadline leaves no room for any.
    const late = { ...scope, deadline: Date.now() - 1 };
    await expect(retrying("StatFile", policy, late, failing("UNAVAILABLE"))).rejects.toMatchObject({
      code: "UNAVAILABLE",
    });
    expect(events).toEqual([]);
  });

  it("gives up as CANCELLED when the signal aborts during a wait", async () => {
    const controller = new AbortController();
    const policy = new RetryPolicy({
      initialBackoffMs: 600_000,
      maxBackoffMs: 600_000,
      maxRetryAfterMs: 600_000,
      onRetry: () => controller.abort(),
    });
    const attempt = async () => {
      throw failed("RATE_LIMITED", 300);
    };
    const aborted = { ...scope, signal: controller.signal };
    await expect(retrying("ListFiles", policy, aborted, attempt)).rejects.toMatchObject({
      code: "CANCELLED",
      name: "CancelledError",
    });
  });
});
