import Fastify, { type FastifyBaseLogger, type FastifyInstance } from "fastify";
import type { AppContext } from "../../app.ts";
import { registerHealthRoutes } from "./routes/health.ts";

export interface HttpServer {
  address: string;
  fastify: FastifyInstance;
  close(): Promise<void>;
}

/** Builds the HTTP app (no listening), so tests can inject requests or listen on a port of their own. */
export function buildHttpApp(app: AppContext): FastifyInstance {
  const fastify = Fastify({
    loggerInstance: app.logger as FastifyBaseLogger,
    requestIdHeader: "x-request-id",
    connectionTimeout: 0,
    keepAliveTimeout: 65_000,
    requestTimeout: 0,
    bodyLimit: 1024 * 1024,
    return503OnClosing: true,
  });
  registerHealthRoutes(fastify, app);
  return fastify;
}

export async function startHttpServer(app: AppContext): Promise<HttpServer> {
  const fastify = buildHttpApp(app);
  const address = await fastify.listen({ host: app.config.http.host, port: app.config.http.port });
  return { address, fastify, close: () => fastify.close() };
}
