import { describe, expect, it } from "vitest";
import { rateLimitSubject } from "./rate-limit.ts";

describe("rateLimitSubject", () => {
  it("is the bare address, as the gRPC server charges it", () => {
    expect(rateLimitSubject("::ffff:10.0.0.7")).toBe("10.0.0.7");
    expect(rateLimitSubject("10.0.0.7")).toBe("10.0.0.7");
    expect(rateLimitSubject("2001:db8::1")).toBe("2001:db8::1");
  });
});
