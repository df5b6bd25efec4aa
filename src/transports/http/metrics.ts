import type { Socket } from "node:net";
import type { FastifyInstance, FastifyRequest } from "fastify";
import { Counter, Histogram, type Registry } from "prom-client";
import { z } from "zod";
import type { Metrics } from "../../observability/metrics.ts";
import { logAccess, problemOf } from "./access-log.ts";

const PREFIX = "lumenslate_storage_http_";

/** Metrics are created once per registry: building a second HTTP app on the same AppContext reuses them. */
function counter<L extends string>(registry: Registry, name: string, help: string, labelNames: L[]) {
  return (
    (registry.getSingleMetric(name) as Counter<L> | undefined) ??
    new Counter({ name, help, labelNames, registers: [registry] })
  );
}

function histogram<L extends string>(registry: Registry, name: string, help: string, labelNames: L[]) {
  return (
    (registry.getSingleMetric(name) as Histogram<L> | undefined) ??
    new Histogram({
      name,
      help,
      labelNames,
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300],
      registers: [registry],
    })
  );
}

/** The route pattern, never the raw URL (keys would explode the label set). */
const routeOf = (request: FastifyRequest) =>
  request.is404 ? "unmatched" : (request.routeOptions.url ?? "unmatched");

/**
 * The bucket a request targeted: the one its access rule named (auth.ts notes it, also for the
 * temp, user-data and log routes whose bucket is implied), else the `:bucket` path parameter.
 */
function bucketOf(request: FastifyRequest): string | undefined {
  const noted = request.auth?.note.bucket;
  if (noted) return noted;
  const param = (request.params as Record<string, unknown> | undefined)?.bucket;
  return typeof param === "string" && param !== "" ? param : undefined;
}

/** Probes and scrapes: counted, but not worth a log line every few seconds. */
const QUIET = new Set(["/healthz", "/readyz", "/metrics"]);

/**
 * Socket byte counters already seen, so each request is charged the bytes its socket moved since
 * the previous request on the same keep-alive connection finished (headers included).
 */
const seen = new WeakMap<Socket, { read: number; written: number }>();

function socketDelta(socket: Socket | undefined): { read: number; written: number } {
  if (!socket) return { read: 0, written: 0 };
  const last = seen.get(socket) ?? { read: 0, written: 0 };
  const now = { read: socket.bytesRead, written: socket.bytesWritten };
  seen.set(socket, now);
  return { read: Math.max(0, now.read - last.read), written: Math.max(0, now.written - last.written) };
}

/**
 * Request count, latency by route and status, bytes in and out (by route, and by bucket), security
 * refusals, the access log line; and GET /metrics for Prometheus.
 */
export function registerHttpMetrics(fastify: FastifyInstance, metrics: Metrics): void {
  const { registry } = metrics;
  const labels: Array<"method" | "route" | "status"> = ["method", "route", "status"];
  const requests = counter(registry, `${PREFIX}requests_total`, "HTTP requests by route and status", labels);
  const duration = histogram(
    registry,
    `${PREFIX}request_duration_seconds`,
    "HTTP request latency (to the last byte sent) by route and status",
    labels,
  );
  const bytesIn = counter(
    registry,
    `${PREFIX}request_bytes_total`,
    "Bytes received on the wire, headers included",
    ["method", "route"],
  );
  const bytesOut = counter(
    registry,
    `${PREFIX}response_bytes_total`,
    "Bytes sent on the wire, headers included",
    ["method", "route"],
  );

  fastify.addHook("onResponse", async (request, reply) => {
    const route = routeOf(request);
    const method = request.method;
    const status = String(reply.statusCode);
    const seconds = reply.elapsedTime / 1000;
    requests.inc({ method, route, status });
    duration.observe({ method, route, status }, seconds);
    const moved = socketDelta(request.raw.socket);
    bytesIn.inc({ method, route }, moved.read);
    bytesOut.inc({ method, route }, moved.written);
    const bucket = bucketOf(request);
    if (bucket) metrics.observeBucketCall("http", bucket, moved.read, moved.written);
    metrics.observeRefusal("http", problemOf(request), Boolean(request.headers.authorization));
    if (QUIET.has(route)) return;
    logAccess(request, reply, {
      method,
      route,
      bucket,
      status: reply.statusCode,
      bytesIn: moved.read,
      bytesOut: moved.written,
      seconds,
    });
  });

  fastify.get(
    "/metrics",
    {
      config: { public: "metrics" },
      schema: {
        tags: ["service"],
        summary: "Prometheus metrics (text exposition format)",
        response: {
          200: { description: "Prometheus text", content: { "text/plain": { schema: z.string() } } },
        },
      },
    },
    async (_request, reply) => reply.type(registry.contentType).send(await registry.metrics()),
  );
}
