import type { Socket } from "node:net";
import type { FastifyInstance, FastifyRequest } from "fastify";
import { Counter, Histogram, type Registry } from "prom-client";
import { z } from "zod";
import type { Metrics } from "../../observability/metrics.ts";

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

/** Request count, latency by route and status, bytes in and out; and GET /metrics for Prometheus. */
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
    requests.inc({ method, route, status });
    duration.observe({ method, route, status }, reply.elapsedTime / 1000);
    const moved = socketDelta(request.raw.socket);
    bytesIn.inc({ method, route }, moved.read);
    bytesOut.inc({ method, route }, moved.written);
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
