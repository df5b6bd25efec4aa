import { Counter, Histogram, Registry } from "prom-client";
import { describe, expect, it } from "vitest";
import { TrafficSignals } from "./signals.ts";

describe("TrafficSignals", () => {
  it("reads error rate and p99 over the window since the previous reading, HTTP and gRPC together", async () => {
    const registry = new Registry();
    const http = new Counter({
      name: "lumenslate_storage_http_requests_total",
      help: "h",
      labelNames: ["method", "route", "status"],
      registers: [registry],
    });
    const grpc = new Counter({
      name: "lumenslate_storage_grpc_requests_total",
      help: "g",
      labelNames: ["method", "code"],
      registers: [registry],
    });
    const duration = new Histogram({
      name: "lumenslate_storage_http_request_duration_seconds",
      help: "d",
      labelNames: ["route"],
      buckets: [0.1, 1, 5],
      registers: [registry],
    });
    const signals = new TrafficSignals(registry);
    expect(await signals.read()).toEqual({ requests: 0 });

    http.inc({ method: "GET", route: "/a", status: "200" }, 7);
    http.inc({ method: "GET", route: "/a", status: "503" }, 1);
    grpc.inc({ method: "M", code: "OK" }, 1);
    grpc.inc({ method: "M", code: "INTERNAL" }, 1);
    for (let i = 0; i < 99; i++) duration.observe({ route: "/a" }, 0.05);
    duration.observe({ route: "/b" }, 3);
    expect(await signals.read()).toEqual({ requests: 10, errorRate: 0.2, p99Seconds: 0.1 });

    // The next window only: slow requests now dominate.
    http.inc({ method: "GET", route: "/a", status: "200" }, 4);
    for (let i = 0; i < 4; i++) duration.observe({ route: "/a" }, 2);
    expect(await signals.read()).toEqual({ requests: 4, errorRate: 0, p99Seconds: 5 });
  });
});
