import { Counter, Histogram, type Registry } from "prom-client";

/** Per-call series for the gRPC server, on the app's registry. */
export interface GrpcMetrics {
  requests: Counter<"method" | "code">;
  duration: Histogram<"method" | "code">;
  bytes: Counter<"method" | "direction">;
}

const NAMES = {
  requests: "lumenslate_storage_grpc_requests_total",
  duration: "lumenslate_storage_grpc_request_duration_seconds",
  bytes: "lumenslate_storage_grpc_payload_bytes_total",
} as const;

// A second server on the same app (tests, a restart in-process) reuses the series instead of
// failing on a duplicate name.
const existing = <T>(registry: Registry, name: string) => registry.getSingleMetric(name) as T | undefined;

export function grpcMetrics(registry: Registry): GrpcMetrics {
  return {
    requests:
      existing(registry, NAMES.requests) ??
      new Counter({
        name: NAMES.requests,
        help: "gRPC calls by method and status code",
        labelNames: ["method", "code"],
        registers: [registry],
      }),
    duration:
      existing(registry, NAMES.duration) ??
      new Histogram({
        name: NAMES.duration,
        help: "gRPC call duration by method and status code (streams: until the status is sent)",
        labelNames: ["method", "code"],
        buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 120, 600],
        registers: [registry],
      }),
    bytes:
      existing(registry, NAMES.bytes) ??
      new Counter({
        name: NAMES.bytes,
        help: "Object bytes carried in gRPC chunk messages, by method and direction (in, out)",
        labelNames: ["method", "direction"],
        registers: [registry],
      }),
  };
}
