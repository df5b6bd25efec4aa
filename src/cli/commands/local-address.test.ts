import { describe, expect, it } from "vitest";
import { localGrpcAddress, localHttpUrl } from "./local-address.ts";

describe("addresses serve records for a local CLI", () => {
  it("turns an IPv4 wildcard bind into loopback, whatever interface Fastify reported", () => {
    expect(localHttpUrl("http://10.1.2.3:8080", "0.0.0.0")).toBe("http://127.0.0.1:8080");
    expect(localHttpUrl("https://10.1.2.3:8443", "0.0.0.0")).toBe("https://127.0.0.1:8443");
    expect(localGrpcAddress("0.0.0.0:50051", "0.0.0.0")).toBe("127.0.0.1:50051");
  });

  it("turns an IPv6 wildcard bind into the IPv6 loopback", () => {
    expect(localHttpUrl("http://[::]:8080", "::")).toBe("http://[::1]:8080");
    expect(localGrpcAddress("[::]:50051", "::")).toBe("[::1]:50051");
  });

  it("keeps a specific bind address as reported", () => {
    expect(localHttpUrl("http://127.0.0.1:8080", "127.0.0.1")).toBe("http://127.0.0.1:8080");
    expect(localHttpUrl("http://192.168.1.5:8080", "192.168.1.5")).toBe("http://192.168.1.5:8080");
    expect(localGrpcAddress("localhost:50051", "localhost")).toBe("localhost:50051");
    expect(localGrpcAddress("[::1]:50051", "::1")).toBe("[::1]:50051");
  });
});
