import type { Registry } from "prom-client";

/** The transports' request series (transports/http/metrics.ts, transports/grpc/metrics.ts). */
const HTTP_REQUESTS = "lumenslate_storage_http_requests_total";
const HTTP_DURATION = "lumenslate_storage_http_request_duration_seconds";
const GRPC_REQUESTS = "lumenslate_storage_grpc_requests_total";
/** gRPC statuses that are the service's fault, as HTTP 5xx are. */
const GRPC_SERVER_ERRORS = new Set(["INTERNAL", "UNAVAILABLE", "UNKNOWN", "DATA_LOSS"]);

interface Sample {
  requests: number;
  errors: number;
  /** Cumulative count per latency bucket bound (le), over every route. */
  buckets: Map<number, number>;
}

export interface TrafficFigures {
  requests: number;
  /** Share of requests with a server error since the previous reading (undefined without requests). */
  errorRate?: number;
  /** 99th percentile HTTP latency since the previous reading: the upper bound of its bucket (seconds). */
  p99Seconds?: number;
}

type Values = { value: number; labels: Record<string, string | number>; metricName?: string }[];

async function valuesOf(registry: Registry, name: string): Promise<Values> {
  const metric = registry.getSingleMetric(name);
  return metric ? ((await metric.get()).values as Values) : [];
}

/**
 * Error rate and p99 latency over the window between two readings, from the counters the transports
 * already keep (cumulative, so each reading is compared with the previous one).
 */
export class TrafficSignals {
  readonly #registry: Registry;
  #last: Sample | undefined;

  constructor(registry: Registry) {
    this.#registry = registry;
  }

  async read(): Promise<TrafficFigures> {
    const now = await this.#sample();
    const last = this.#last ?? { requests: 0, errors: 0, buckets: new Map() };
    this.#last = now;
    const requests = now.requests - last.requests;
    if (requests <= 0) return { requests: 0 };
    const errors = now.errors - last.errors;
    const bounds = [...now.buckets.keys()].sort((a, b) => a - b);
    const total = (now.buckets.get(Infinity) ?? 0) - (last.buckets.get(Infinity) ?? 0);
    let p99: number | undefined;
    if (total > 0) {
      for (const le of bounds) {
        if ((now.buckets.get(le) ?? 0) - (last.buckets.get(le) ?? 0) >= 0.99 * total) {
          p99 = le;
          break;
        }
      }
    }
    return { requests, errorRate: errors / requests, ...(p99 === undefined ? {} : { p99Seconds: p99 }) };
  }

  async #sample(): Promise<Sample> {
    const sample: Sample = { requests: 0, errors: 0, buckets: new Map() };
    for (const v of await valuesOf(this.#registry, HTTP_REQUESTS)) {
      sample.requests += v.value;
      if (Number(v.labels.status) >= 500) sample.errors += v.value;
    }
    for (const v of await valuesOf(this.#registry, GRPC_REQUESTS)) {
      sample.requests += v.value;
      if (GRPC_SERVER_ERRORS.has(String(v.labels.code))) sample.errors += v.value;
    }
    for (const v of await valuesOf(this.#registry, HTTP_DURATION)) {
      if (!v.metricName?.endsWith("_bucket")) continue;
      const le = v.labels.le === "+Inf" ? Infinity : Number(v.labels.le);
      sample.buckets.set(le, (sample.buckets.get(le) ?? 0) + v.value);
    }
    return sample;
  }
}
