import { describe, expect, it } from "vitest";
import { RateLimiter } from "./rate-limit.ts";

describe("RateLimiter", () => {
  it("lets a subject use its budget, then refuses with a retry hint, per subject", async () => {
    const limiter = new RateLimiter({ enabled: true, requests: 3, windowSeconds: 60 });
    for (let i = 0; i < 3; i++) await limiter.consume("a");
    await expect(limiter.consume("a")).rejects.toMatchObject({
      code: "RATE_LIMITED",
      details: { retryAfterSeconds: expect.any(Number) },
    });
    await expect(limiter.consume("b")).resolves.toBeUndefined();
  });

  it("honours a per-subject budget override", async () => {
    const limiter = new RateLimiter({ enabled: true, requests: 100, windowSeconds: 60 });
    await limiter.consume("key:a", 1);
    await expect(limiter.consume("key:a", 1)).rejects.toMatchObject({ code: "RATE_LIMITED" });
    await limiter.consume("key:b");
  });

  it("does nothing when disabled", async () => {
    const limiter = new RateLimiter({ enabled: false, requests: 1, windowSeconds: 60 });
    for (let i = 0; i < 5; i++) await limiter.consume("a");
  });
});
