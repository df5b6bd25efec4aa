import { Server, ServerCredentials } from "@grpc/grpc-js";
import type { AppContext } from "../../app.ts";
import type { Logger } from "../../log.ts";
import { storageProto } from "./definition.ts";
import { GrpcHealth, type HealthOptions } from "./health.ts";
import { loggingInterceptor } from "./interceptors/logging.ts";
import { rateLimitInterceptor } from "./interceptors/rate-limit.ts";
import { grpcMetrics } from "./metrics.ts";
import { reflectionService } from "./reflection.ts";
import { InFlight } from "./services/call-scope.ts";
import { storageServiceHandlers } from "./services/storage-service.ts";

export interface GrpcServerOptions {
  /** Defaults: config.grpc.host and config.grpc.port (0 picks a free port). */
  host?: string;
  port?: number;
  /** Defaults to app.logger. */
  logger?: Logger;
  health?: HealthOptions;
}

export interface GrpcServer {
  /** host:port as bound. */
  address: string;
  port: number;
  server: Server;
  health: GrpcHealth;
  /** Handler work still running (for tests and shutdown). */
  inFlight: InFlight;
  /**
   * Graceful stop: health turns NOT_SERVING, no new calls are taken, in-flight calls may finish for
   * up to `graceSeconds` (default config.shutdownGraceSeconds); then the rest are cancelled, and
   * their cleanup (aborting multipart uploads) gets a few more seconds before this resolves.
   */
  close(graceSeconds?: number): Promise<void>;
}

/** After a forced stop, how long cancelled handlers get to clean up before the app closes under them. */
const CLEANUP_MS = 5_000;

/** Builds, binds and starts the gRPC server on the app: StorageService, health, reflection. */
export async function startGrpcServer(app: AppContext, options: GrpcServerOptions = {}): Promise<GrpcServer> {
  const { grpc } = app.config;
  const logger = options.logger ?? app.logger;
  const inFlight = new InFlight();
  const server = new Server({
    "grpc.max_receive_message_length": grpc.maxMessageBytes,
    "grpc.max_send_message_length": grpc.maxMessageBytes,
    "grpc.keepalive_time_ms": grpc.keepaliveTimeSeconds * 1000,
    "grpc.keepalive_timeout_ms": grpc.keepaliveTimeoutSeconds * 1000,
    // The logging interceptor is first, so it sees the statuses the rate limiter sends too.
    interceptors: [
      loggingInterceptor(logger, grpcMetrics(app.metrics.registry)),
      rateLimitInterceptor(app.rateLimiter, (err) =>
        logger.error({ err: err.cause ?? err }, "grpc: rate limiter failed"),
      ),
    ],
  });
  server.addService(
    storageProto().lumenslate.storage.v1.StorageService.service,
    storageServiceHandlers({ service: app.service, logger, inFlight, maxMessageBytes: grpc.maxMessageBytes }),
  );
  const health = new GrpcHealth(app, options.health);
  health.addToServer(server);
  reflectionService().addToServer(server);

  const host = options.host ?? grpc.host;
  const hostPart = host.includes(":") ? `[${host}]` : host;
  const port = await new Promise<number>((resolve, reject) => {
    server.bindAsync(
      `${hostPart}:${options.port ?? grpc.port}`,
      ServerCredentials.createInsecure(),
      (err, bound) => (err ? reject(err) : resolve(bound)),
    );
  });
  await health.start();

  let closing: Promise<void> | undefined;
  const close = (graceSeconds = app.config.shutdownGraceSeconds): Promise<void> => {
    closing ??= (async () => {
      health.stop();
      const finished = await new Promise<boolean>((resolve) => {
        const timer = setTimeout(() => resolve(false), graceSeconds * 1000);
        server.tryShutdown(() => {
          clearTimeout(timer);
          resolve(true);
        });
      });
      if (!finished) {
        logger.warn({ graceSeconds, inFlight: inFlight.size }, "grpc: grace period over, cancelling calls");
        server.forceShutdown();
      }
      await inFlight.drain(CLEANUP_MS);
    })();
    return closing;
  };

  return { address: `${hostPart}:${port}`, port, server, health, inFlight, close };
}
