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

describe("RateLimiter with a shared store", () => {
  it("keeps its budgets in the store, under the deployment's namespace", async () => {
    const queries: { text: string; values?: unknown[] }[] = [];
    // Answers like PostgreSQL's upsert would for a fresh window: this many points used so far.
    let used = 0;
    const client = {
      query: async (q: { text: string; values?: unknown[] }) => {
        queries.push(q);
        used += 1;
        return { rows: [{ points: used, expire: Date.now() + 60_000 }], rowCount: 1 };
      },
    };
    const limiter = new RateLimiter(
      { enabled: true, requests: 2, windowSeconds: 60 },
      { client, namespace: "staging-" },
    );
    await limiter.consume("key:a");
    await limiter.consume("key:a");
    await expect(limiter.consume("key:a")).rejects.toMatchObject({ code: "RATE_LIMITED" });
    expect(queries.length).toBe(3);
    expect(queries.every((q) => q.text.includes('"rate_limits"'))).toBe(true);
    expect(queries[0]?.values?.[0]).toBe("staging-rl2:key:a");
  });

  it("falls back to this instance's memory when the store fails, rather than failing requests", async () => {
    const client = { query: async () => Promise.reject(new Error("connection refused")) };
    const limiter = new RateLimiter(
      { enabled: true, requests: 2, windowSeconds: 60 },
      { client, namespace: "" },
    );
    await limiter.consume("a");
    await limiter.consume("a");
    await expect(limiter.consume("a")).rejects.toMatchObject({ code: "RATE_LIMITED" });
  });
});
