import { Server, ServerCredentials } from "@grpc/grpc-js";
import type { AppContext } from "../../app.ts";
import type { Logger } from "../../log.ts";
import { loadTlsMaterial, type TlsMaterial } from "../../security/index.ts";
import { storageProto } from "./definition.ts";
import { GrpcHealth, type HealthOptions } from "./health.ts";
import { authInterceptor } from "./interceptors/auth.ts";
import { loggingInterceptor } from "./interceptors/logging.ts";
import { refusedMessageInterceptor } from "./interceptors/messages.ts";
import { rateLimitInterceptor } from "./interceptors/rate-limit.ts";
import { grpcMetrics } from "./metrics.ts";
import { reflectionService } from "./reflection.ts";
import { type ServedMethod, ServiceRegistry } from "./register.ts";
import { adminServiceHandlers } from "./services/admin.ts";
import { InFlight } from "./services/call-scope.ts";
import { configHandlers } from "./services/config.ts";
import { logStorageHandlers } from "./services/logs.ts";
import { modelStorageHandlers } from "./services/models.ts";
import { protoStorageHandlers } from "./services/protos.ts";
import { statsHandlers } from "./services/stats.ts";
import { storageServiceHandlers } from "./services/storage-service.ts";
import { tempStorageHandlers } from "./services/temp.ts";
import { uploadSessionHandlers } from "./services/upload-sessions.ts";
import { userDataHandlers } from "./services/user-data.ts";

export interface GrpcServerOptions {
  /** Defaults: config.grpc.host and config.grpc.port (0 picks a free port). */
  host?: string;
  port?: number;
  /** Defaults to app.logger. */
  logger?: Logger;
  health?: HealthOptions;
  /** TLS material; defaults to what config.tls names (plain text when it names nothing). */
  tls?: TlsMaterial;
}

export interface GrpcServer {
  /** host:port as bound. */
  address: string;
  port: number;
  /** Whether the server speaks TLS (and whether it requires client certificates). */
  tls: { enabled: boolean; requireClientCert: boolean };
  server: Server;
  /** Every method served (registered through ServiceRegistry): tests enumerate these. */
  methods: readonly ServedMethod[];
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

/**
 * Server credentials: TLS when a certificate and key are configured, optionally requiring a client
 * certificate signed by the client CA (grpc-js then refuses the handshake of a client without one).
 */
export function serverCredentials(tls: TlsMaterial | undefined): ServerCredentials {
  if (!tls) return ServerCredentials.createInsecure();
  return ServerCredentials.createSsl(
    tls.clientCa ?? null,
    [{ private_key: tls.key, cert_chain: tls.cert }],
    tls.requireClientCert,
  );
}

/**
 * Builds, binds and starts the gRPC server on the app: StorageService (every call authenticated
 * by API key and authorized per bucket and key, see interceptors/auth.ts and services/gate.ts),
 * AdminService (the same, with `*:admin` on every call), ProtoStorageService (the proto registry,
 * scopes on the proto-files bucket per service), health and reflection (open). Deny by
 * default: only methods with an access rule (methods.ts) are registered, and only through the
 * ServiceRegistry, which throws here on any other.
 */
export async function startGrpcServer(app: AppContext, options: GrpcServerOptions = {}): Promise<GrpcServer> {
  const { grpc } = app.config;
  const logger = options.logger ?? app.logger;
  const inFlight = new InFlight();
  const tls = options.tls ?? (await loadTlsMaterial(app.config.tls));
  const onInternal = (what: string) => (err: { cause?: unknown }) =>
    logger.error({ err: err.cause ?? err }, `grpc: ${what} failed`);
  const server = new Server({
    "grpc.max_receive_message_length": grpc.maxMessageBytes,
    "grpc.max_send_message_length": grpc.maxMessageBytes,
    "grpc.keepalive_time_ms": grpc.keepaliveTimeSeconds * 1000,
    "grpc.keepalive_timeout_ms": grpc.keepaliveTimeoutSeconds * 1000,
    // The logging interceptor is first, so it sees the statuses the others send too. The rate
    // limiter charges reflection by address; the auth interceptor charges StorageService per key.
    interceptors: [
      loggingInterceptor(logger, grpcMetrics(app.metrics, app.config.buckets)),
      rateLimitInterceptor(app.rateLimiter, onInternal("rate limiter")),
      authInterceptor({
        security: app.security,
        limiter: app.rateLimiter,
        onInternal: onInternal("authentication"),
      }),
      // Last, so a message is judged only once its caller is admitted; needed by the registry's
      // strict deserializers, which hand it undecodable and non-UTF-8 messages to refuse.
      refusedMessageInterceptor(onInternal("message check")),
    ],
  });
  const registry = new ServiceRegistry(server);
  registry.addService(
    storageProto().lumenslate.storage.v1.StorageService.service,
    storageServiceHandlers({
      service: app.service,
      security: app.security,
      logger,
      inFlight,
      maxMessageBytes: grpc.maxMessageBytes,
    }),
  );
  registry.addService(
    storageProto().lumenslate.storage.v1.AdminService.service,
    adminServiceHandlers({
      service: app.service,
      security: app.security,
      logger,
      inFlight,
      configuredBuckets: Object.values(app.config.buckets),
    }),
  );
  registry.addService(
    storageProto().lumenslate.storage.v1.ProtoStorageService.service,
    protoStorageHandlers({
      protos: app.protos,
      security: app.security,
      logger,
      inFlight,
      maxMessageBytes: grpc.maxMessageBytes,
      buckets: app.config.buckets,
    }),
  );
  registry.addService(
    storageProto().lumenslate.storage.v1.TempStorageService.service,
    tempStorageHandlers({
      temp: app.tempStore,
      security: app.security,
      logger,
      inFlight,
      maxMessageBytes: grpc.maxMessageBytes,
    }),
  );
  registry.addService(
    storageProto().lumenslate.storage.v1.UserDataService.service,
    userDataHandlers({
      userData: app.userData,
      security: app.security,
      logger,
      inFlight,
      maxMessageBytes: grpc.maxMessageBytes,
    }),
  );
  registry.addService(
    storageProto().lumenslate.storage.v1.LogStorageService.service,
    logStorageHandlers({
      logs: app.logArchive,
      security: app.security,
      logger,
      inFlight,
      maxMessageBytes: grpc.maxMessageBytes,
    }),
  );
  registry.addService(
    storageProto().lumenslate.storage.v1.ConfigService.service,
    configHandlers({
      configStore: app.configStore,
      security: app.security,
      logger,
      inFlight,
      bucket: app.config.buckets.config,
    }),
  );
  registry.addService(
    storageProto().lumenslate.storage.v1.ModelStorageService.service,
    modelStorageHandlers({
      models: app.models,
      bucket: app.config.buckets.modelArtifacts,
      security: app.security,
      logger,
      inFlight,
      maxMessageBytes: grpc.maxMessageBytes,
    }),
  );
  registry.addService(
    storageProto().lumenslate.storage.v1.StatsService.service,
    statsHandlers({ stats: app.stats, alerts: app.alerts, security: app.security, logger, inFlight }),
  );
  registry.addService(
    storageProto().lumenslate.storage.v1.UploadSessionService.service,
    uploadSessionHandlers({ sessions: app.service.sessions, security: app.security, logger, inFlight }),
  );
  const health = new GrpcHealth(app, options.health);
  health.addToServer(registry);
  reflectionService().addToServer(registry);

  const host = options.host ?? grpc.host;
  const hostPart = host.includes(":") ? `[${host}]` : host;
  const port = await new Promise<number>((resolve, reject) => {
    server.bindAsync(`${hostPart}:${options.port ?? grpc.port}`, serverCredentials(tls), (err, bound) =>
      err ? reject(err) : resolve(bound),
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

  return {
    address: `${hostPart}:${port}`,
    port,
    tls: { enabled: tls !== undefined, requireClientCert: tls?.requireClientCert ?? false },
    server,
    methods: registry.methods,
    health,
    inFlight,
    close,
  };
}
