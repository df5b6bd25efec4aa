import { Counter, Histogram, type Registry } from "prom-client";
import type { BucketNames } from "../../config/config.ts";
import type { Metrics } from "../../observability/metrics.ts";
import {
  CONFIG_SERVICE_NAME,
  LOG_STORAGE_SERVICE_NAME,
  MODEL_STORAGE_SERVICE_NAME,
  PROTO_STORAGE_SERVICE_NAME,
  TEMP_STORAGE_SERVICE_NAME,
  USER_DATA_SERVICE_NAME,
} from "./definition.ts";

/** Per-call series for the gRPC server, on the app's registry. */
export interface GrpcMetrics {
  requests: Counter<"method" | "code">;
  duration: Histogram<"method" | "code">;
  bytes: Counter<"method" | "direction">;
  /** The app's metrics, for the series both servers share (per bucket, security refusals). */
  app: Metrics;
  /** The bucket a call targets, from its path and first message (undefined: none, e.g. admin calls). */
  bucketOf(method: string, firstMessage: unknown): string | undefined;
}

const NAMES = {
  requests: "lumenslate_storage_grpc_requests_total",
  duration: "lumenslate_storage_grpc_request_duration_seconds",
  bytes: "lumenslate_storage_grpc_payload_bytes_total",
} as const;

/** Services whose calls all go to one configured bucket, named by no message field. */
const IMPLIED: Readonly<Record<string, keyof BucketNames>> = {
  [TEMP_STORAGE_SERVICE_NAME]: "temp",
  [USER_DATA_SERVICE_NAME]: "userData",
  [LOG_STORAGE_SERVICE_NAME]: "logs",
  [PROTO_STORAGE_SERVICE_NAME]: "protoFiles",
  [CONFIG_SERVICE_NAME]: "config",
  [MODEL_STORAGE_SERVICE_NAME]: "modelArtifacts",
};

/** StorageService messages name the bucket directly, in an upload's header, or as a copy's target. */
function namedBucket(message: unknown): string | undefined {
  const m = message as {
    bucket?: unknown;
    header?: { bucket?: unknown } | null;
    targetBucket?: unknown;
  } | null;
  const found = m?.bucket ?? m?.header?.bucket ?? m?.targetBucket;
  return typeof found === "string" && found !== "" ? found : undefined;
}

// A second server on the same app (tests, a restart in-process) reuses the series instead of
// failing on a duplicate name.
const existing = <T>(registry: Registry, name: string) => registry.getSingleMetric(name) as T | undefined;

export function grpcMetrics(app: Metrics, buckets: BucketNames): GrpcMetrics {
  const { registry } = app;
  return {
    app,
    bucketOf: (method, firstMessage) => {
      const service = method.split("/")[1] ?? "";
      const implied = IMPLIED[service];
      return implied ? buckets[implied] : namedBucket(firstMessage);
    },
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
