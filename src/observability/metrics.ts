import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";

/** Which server a call came through; a label on the series both servers share. */
export type Protocol = "http" | "grpc";

/** The bucket label of a call to a bucket nobody configured: one series, whatever the name. */
export const OTHER_BUCKET = "other";

/**
 * prom-client's Node metrics that are gauges named `_total` (sums of the per-type gauges beside
 * them). Prometheus reserves `_total` for counters, so `promtool check metrics` flags them; the
 * per-type series (`nodejs_active_handles{type}` ...) carry the same numbers.
 */
const GAUGES_NAMED_TOTAL = [
  "nodejs_active_handles_total",
  "nodejs_active_requests_total",
  "nodejs_active_resources_total",
];

/**
 * The service's Prometheus metrics, on a private registry (never the global one, so two apps in one
 * process, as in tests, do not collide). Transports add their request metrics here; backends report
 * through the plain callback `observeBackendCall` and never import prom-client.
 *
 * Naming (Prometheus conventions): Node's default metrics keep their standard names (`process_*`,
 * `nodejs_*`) so stock Node dashboards work; the service's own series are `lumenslate_storage_*`,
 * in base units (seconds, bytes), with `_total` on counters only.
 */
export class Metrics {
  readonly registry = new Registry();
  readonly backendCalls: Histogram<"operation" | "outcome">;
  readonly backendErrors: Counter<"operation" | "code">;
  readonly #known: ReadonlySet<string>;
  readonly #bucketRequests: Counter<"bucket" | "protocol">;
  readonly #bucketBytes: Counter<"bucket" | "protocol" | "direction">;
  readonly #authFailures: Counter<"protocol" | "reason">;
  readonly #rateLimited: Counter<"protocol">;

  /** `buckets`: the configured bucket names, the only ones that get a series of their own. */
  constructor(options: { buckets?: readonly string[] } = {}) {
    this.#known = new Set(options.buckets ?? []);
    collectDefaultMetrics({ register: this.registry });
    for (const name of GAUGES_NAMED_TOTAL) this.registry.removeSingleMetric(name);
    const registers = [this.registry];
    this.backendCalls = new Histogram({
      name: "lumenslate_storage_backend_call_duration_seconds",
      help: "Latency of object store calls by operation and outcome",
      labelNames: ["operation", "outcome"],
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers,
    });
    this.backendErrors = new Counter({
      name: "lumenslate_storage_backend_errors_total",
      help: "Object store call failures by operation and error name",
      labelNames: ["operation", "code"],
      registers,
    });
    this.#bucketRequests = new Counter({
      name: "lumenslate_storage_bucket_requests_total",
      help: `Requests (HTTP) and calls (gRPC) by the bucket they targeted; unconfigured buckets count as "${OTHER_BUCKET}"`,
      labelNames: ["bucket", "protocol"],
      registers,
    });
    this.#bucketBytes = new Counter({
      name: "lumenslate_storage_bucket_transfer_bytes_total",
      help: "Bytes moved by requests to a bucket, by direction (in: received, out: sent)",
      labelNames: ["bucket", "protocol", "direction"],
      registers,
    });
    this.#authFailures = new Counter({
      name: "lumenslate_storage_auth_failures_total",
      help: "Refused calls by reason: missing_credentials, invalid_credentials (401) or permission_denied (403)",
      labelNames: ["protocol", "reason"],
      registers,
    });
    this.#rateLimited = new Counter({
      name: "lumenslate_storage_rate_limited_total",
      help: "Calls refused by the rate limiter (HTTP 429, gRPC RESOURCE_EXHAUSTED)",
      labelNames: ["protocol"],
      registers,
    });
  }

  /** The `bucket` label for a bucket name: itself when configured, else "other" (bounded cardinality). */
  bucketLabel(bucket: string): string {
    return this.#known.has(bucket) ? bucket : OTHER_BUCKET;
  }

  /** One finished call that targeted a bucket, with the bytes it moved. */
  observeBucketCall(protocol: Protocol, bucket: string, bytesIn: number, bytesOut: number): void {
    const label = this.bucketLabel(bucket);
    this.#bucketRequests.inc({ bucket: label, protocol });
    if (bytesIn > 0) this.#bucketBytes.inc({ bucket: label, protocol, direction: "in" }, bytesIn);
    if (bytesOut > 0) this.#bucketBytes.inc({ bucket: label, protocol, direction: "out" }, bytesOut);
  }

  /**
   * A call answered with an error code (StorageError's): counts the security refusals among them.
   * `credentials`: whether the call presented any (tells a missing key from a bad one).
   */
  observeRefusal(protocol: Protocol, code: string | undefined, credentials: boolean): void {
    if (code === "UNAUTHENTICATED") {
      const reason = credentials ? "invalid_credentials" : "missing_credentials";
      this.#authFailures.inc({ protocol, reason });
    } else if (code === "PERMISSION_DENIED")
      this.#authFailures.inc({ protocol, reason: "permission_denied" });
    else if (code === "RATE_LIMITED") this.#rateLimited.inc({ protocol });
  }

  /** Admission control's state, read at each scrape (the core keeps the numbers, not prom-client). */
  watchAdmission(read: () => { uploads: number; bufferedBytes: number; refused: number }): void {
    new Gauge({
      name: "lumenslate_storage_uploads_in_flight",
      help: "Uploads admitted and still running",
      registers: [this.registry],
      collect() {
        this.set(read().uploads);
      },
    });
    new Gauge({
      name: "lumenslate_storage_upload_buffer_reserved_bytes",
      help: "Memory reserved by running uploads for buffering (admission control's budget in use)",
      registers: [this.registry],
      collect() {
        this.set(read().bufferedBytes);
      },
    });
    new Counter({
      name: "lumenslate_storage_uploads_refused_total",
      help: "Uploads refused by admission control (OVERLOADED)",
      registers: [this.registry],
      collect() {
        this.reset();
        this.inc(read().refused);
      },
    });
  }

  /** Index rows found stale (an out-of-band write) and re-derived from the store, read at each scrape. */
  watchRederivedRows(read: () => number): void {
    new Counter({
      name: "lumenslate_storage_index_rows_rederived_total",
      help: "Index rows that no longer matched the stored object's ETag and were re-derived by hashing it",
      registers: [this.registry],
      collect() {
        this.reset();
        this.inc(read());
      },
    });
  }

  /** Callback for backends: one finished call. */
  observeBackendCall = (operation: string, seconds: number, error?: string): void => {
    this.backendCalls.observe({ operation, outcome: error ? "error" : "ok" }, seconds);
    if (error) this.backendErrors.inc({ operation, code: error });
  };
}
