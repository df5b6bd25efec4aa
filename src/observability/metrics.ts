import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";

/**
 * The service's Prometheus metrics, on a private registry (never the global one, so two apps in one
 * process, as in tests, do not collide). Transports add their request metrics here; backends report
 * through the plain callback `observeBackendCall` and never import prom-client.
 */
export class Metrics {
  readonly registry = new Registry();
  readonly backendCalls: Histogram<"operation" | "outcome">;
  readonly backendErrors: Counter<"operation" | "code">;

  constructor() {
    collectDefaultMetrics({ register: this.registry, prefix: "lumenslate_storage_process_" });
    this.backendCalls = new Histogram({
      name: "lumenslate_storage_backend_call_seconds",
      help: "Latency of object store calls by operation and outcome",
      labelNames: ["operation", "outcome"],
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers: [this.registry],
    });
    this.backendErrors = new Counter({
      name: "lumenslate_storage_backend_errors_total",
      help: "Object store call failures by operation and error name",
      labelNames: ["operation", "code"],
      registers: [this.registry],
    });
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
