import type { FastifyInstance } from "fastify";
import type { ZodTypeProvider } from "fastify-type-provider-zod";
import { z } from "zod";
import type { AppContext } from "../../../app.ts";
import { asStorageError } from "../../../errors.ts";

const READY_TIMEOUT_MS = 3_000;

const Unavailable = z.object({ status: z.literal("unavailable"), code: z.string(), message: z.string() });

const Ready = z.object({
  status: z.literal("ready"),
  backend: z.string(),
  store: z
    .enum(["ok", "degraded"])
    .describe(
      "degraded: a distributed MinIO serves reads and writes but could not lose one more node (a node or drives are down).",
    ),
  auth: z
    .enum(["enabled", "disabled"])
    .describe("disabled only with AUTH_DISABLED=true (never in production)."),
  warnings: z
    .array(z.string())
    .optional()
    .describe("Said loudly at start-up too, e.g. authentication disabled."),
});

/**
 * /healthz: the process is up. /readyz: the object store and the database both answer; it also says
 * whether API keys are enforced, so a service running open (AUTH_DISABLED=true) is visible, and
 * whether a MinIO cluster runs degraded (still 200: it serves, but an operator should look).
 */
export function registerHealthRoutes(fastify: FastifyInstance, app: AppContext): void {
  const f = fastify.withTypeProvider<ZodTypeProvider>();

  f.get(
    "/healthz",
    {
      config: { public: "probe" },
      schema: {
        tags: ["service"],
        summary: "Liveness: the process is up",
        response: { 200: z.object({ status: z.literal("ok") }) },
      },
    },
    async () => ({ status: "ok" as const }),
  );

  f.get(
    "/readyz",
    {
      config: { public: "probe" },
      schema: {
        tags: ["service"],
        summary: "Readiness: the object store and the database answer",
        response: {
          200: Ready,
          503: Unavailable,
        },
      },
    },
    async (request, reply) => {
      try {
        const { store } = await app.ready(AbortSignal.timeout(READY_TIMEOUT_MS));
        const warnings = app.security.warnings();
        return {
          status: "ready" as const,
          backend: app.config.storage.backend,
          store,
          auth: app.security.disabled ? ("disabled" as const) : ("enabled" as const),
          ...(warnings.length > 0 ? { warnings } : {}),
        };
      } catch (err) {
        const e = asStorageError(err, "UNAVAILABLE");
        request.log.warn({ err }, "readiness check failed");
        return reply
          .code(503)
          .send({ status: "unavailable" as const, code: e.code, message: e.toPublic().message });
      }
    },
  );
}
