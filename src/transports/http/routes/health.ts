import type { FastifyInstance } from "fastify";
import type { AppContext } from "../../../app.ts";
import { asStorageError } from "../../../errors.ts";

const READY_TIMEOUT_MS = 3_000;

/** /healthz: the process is up. /readyz: the object store and the database both answer. */
export function registerHealthRoutes(fastify: FastifyInstance, app: AppContext): void {
  fastify.get("/healthz", async () => ({ status: "ok" }));

  fastify.get("/readyz", async (request, reply) => {
    try {
      await app.ready(AbortSignal.timeout(READY_TIMEOUT_MS));
      return { status: "ready", backend: app.config.storage.backend };
    } catch (err) {
      const e = asStorageError(err, "UNAVAILABLE");
      request.log.warn({ err }, "readiness check failed");
      return reply.code(503).send({ status: "unavailable", code: e.code, message: e.toPublic().message });
    }
  });
}
