import Fastify, { type FastifyBaseLogger, type FastifyInstance, LogController } from "fastify";
import { serializerCompiler, validatorCompiler } from "fastify-type-provider-zod";
import type { AppContext } from "../../app.ts";
import { StorageError } from "../../errors.ts";
import { loadTlsMaterial } from "../../security/index.ts";
import { registerSecurity } from "./auth.ts";
import { clientErrorHandler } from "./client-error.ts";
import { frameworkErrorHandler, registerErrorHandling } from "./error-handler.ts";
import { registerHttpMetrics } from "./metrics.ts";
import { registerOpenApi } from "./openapi.ts";
import { REQUEST_ID_HEADER, requestIdFor } from "./request-id.ts";
import { enforceRoutePolicy, isOriginForm } from "./route-policy.ts";
import { registerAdminAuditRoute } from "./routes/admin-audit.ts";
import { registerAdminKeysRoutes } from "./routes/admin-keys.ts";
import { registerAdminReconcileRoute } from "./routes/admin-reconcile.ts";
import { registerConfigRoutes } from "./routes/config.ts";
import { registerConfigPutRoutes } from "./routes/config-put.ts";
import { registerCopyRoute } from "./routes/copy.ts";
import { registerCredentialsRoute } from "./routes/credentials.ts";
import { registerHealthRoutes } from "./routes/health.ts";
import { registerListingRoute } from "./routes/listing.ts";
import { registerLogRoutes } from "./routes/logs.ts";
import { registerLogUploadRoute } from "./routes/logs-upload.ts";
import { registerMinioAuditRoute } from "./routes/minio-audit.ts";
import { registerModelRoutes } from "./routes/models.ts";
import { registerModelBlobRoute } from "./routes/models-blobs.ts";
import { registerModelFileRoute } from "./routes/models-files.ts";
import { registerModelSessionRoute } from "./routes/models-sessions.ts";
import { registerMultipartUploadRoutes } from "./routes/multipart-upload.ts";
import { registerDeleteRoutes } from "./routes/object-delete.ts";
import { registerObjectReadRoutes } from "./routes/object-read.ts";
import { registerObjectUploadRoute } from "./routes/object-upload.ts";
import { registerPresignRoutes } from "./routes/presign.ts";
import { registerProtoReadRoutes } from "./routes/protos.ts";
import { registerProtoGeneratedRoute, registerProtoPublishRoute } from "./routes/protos-publish.ts";
import { registerStatsRoutes } from "./routes/stats.ts";
import { registerTempReadRoute, registerTempSweepRoute, registerTempUploadRoute } from "./routes/temp.ts";
import { registerUploadSessionRoutes } from "./routes/upload-sessions.ts";
import { registerUserDataRoutes } from "./routes/user-data.ts";
import { registerUserDataUploadRoute } from "./routes/user-data-upload.ts";

export interface HttpServer {
  address: string;
  fastify: FastifyInstance;
  /** Stops accepting, lets in-flight requests finish for up to SHUTDOWN_GRACE_PERIOD, then cuts them. */
  close(): Promise<void>;
}

/** Shared with close(): once set, requests still arriving on open connections get 503. */
export interface Lifecycle {
  closing: boolean;
}

/**
 * Builds the HTTP app (no listening), so tests can inject requests or listen on a port of their own.
 * Timeouts: no total request timeout (uploads and downloads stream for as long as they move), but
 * a connection idle for HTTP_IDLE_TIMEOUT is closed, and headers must arrive within HTTP_HEADERS_TIMEOUT.
 * With TLS_CERT_FILE and TLS_KEY_FILE set it serves HTTPS only (the same options, on TLS).
 */
export async function buildHttpApp(
  app: AppContext,
  lifecycle: Lifecycle = { closing: false },
): Promise<FastifyInstance> {
  const { http } = app.config;
  const tls = await loadTlsMaterial(app.config.tls);
  const serverOptions = {
    maxHeaderSize: http.maxHeaderBytes,
    headersTimeout: http.headersTimeoutSeconds * 1000,
    // How often Node looks for connections past headersTimeout (its default, 30 s, is coarser than the limit).
    connectionsCheckingInterval: Math.min(30_000, Math.max(500, (http.headersTimeoutSeconds * 1000) / 2)),
  };
  const fastify = Fastify({
    loggerInstance: app.logger as FastifyBaseLogger,
    logController: new LogController({
      requestIdLogLabel: "requestId",
      // One access line per request instead of Fastify's two (see access-log.ts): its lines carry
      // the raw URL (presigned signatures and all) and a bare status.
      disableRequestLogging: true,
    }),
    requestIdHeader: false,
    genReqId: requestIdFor,
    connectionTimeout: http.idleTimeoutSeconds * 1000,
    keepAliveTimeout: http.keepAliveTimeoutSeconds * 1000,
    requestTimeout: 0,
    ...(tls ? { https: { ...serverOptions, cert: tls.cert, key: tls.key } } : { http: serverOptions }),
    bodyLimit: http.jsonBodyLimit,
    // Percent-encoded keys of up to 1024 UTF-8 bytes can be three times as long in the URL.
    routerOptions: { maxParamLength: 4096 },
    clientErrorHandler,
    // Errors the router raises before any hook (a path that does not decode) as problem+json too.
    frameworkErrors: frameworkErrorHandler,
    return503OnClosing: false,
    forceCloseConnections: "idle",
  });
  fastify.setValidatorCompiler(validatorCompiler);
  fastify.setSerializerCompiler(serializerCompiler);
  registerErrorHandling(fastify);

  // Before anything else: every route says who may call it (route-policy.ts).
  enforceRoutePolicy(fastify);

  fastify.addHook("onRequest", async (request, reply) => {
    reply.header(REQUEST_ID_HEADER, request.id);
    if (!isOriginForm(request.method, request.raw.url)) {
      reply.header("connection", "close");
      throw new StorageError(
        "INVALID_ARGUMENT",
        "The request target must be a path ('/v1/...'); absolute-form targets are for proxies and are refused.",
      );
    }
    if (lifecycle.closing) {
      reply.header("connection", "close");
      throw new StorageError("UNAVAILABLE", "The server is shutting down; retry on another instance.");
    }
  });
  // While closing, every response ends its connection, so close() does not wait on idle keep-alives.
  fastify.addHook("onSend", async (_request, reply) => {
    if (lifecycle.closing) reply.header("connection", "close");
  });
  // API keys, scopes, rate limits and the audit trail for every /v1 route (see auth.ts).
  registerSecurity(fastify, app);

  // The OpenAPI plugin first: it documents the routes registered after it.
  await registerOpenApi(fastify);
  registerHttpMetrics(fastify, app.metrics);
  registerHealthRoutes(fastify, app);

  // JSON routes take JSON only (a text/plain body is 415, not a string that fails validation).
  await fastify.register(async (api) => {
    api.removeContentTypeParser("text/plain");
    registerObjectReadRoutes(api, app);
    registerListingRoute(api, app);
    registerDeleteRoutes(api, app);
    registerCopyRoute(api, app);
    registerPresignRoutes(api, app);
    registerCredentialsRoute(api, app);
    registerAdminKeysRoutes(api, app);
    registerAdminAuditRoute(api, app);
    registerAdminReconcileRoute(api, app);
    registerProtoReadRoutes(api, app);
    registerTempReadRoute(api, app);
    registerTempSweepRoute(api, app);
    registerUserDataRoutes(api, app);
    registerLogRoutes(api, app);
    registerConfigRoutes(api, app);
    registerModelRoutes(api, app);
    registerModelFileRoute(api, app);
    registerModelSessionRoute(api, app);
    registerStatsRoutes(api, app);
    registerUploadSessionRoutes(api, app);
  });
  // Streaming bodies, each in a scope with its own content-type parsers.
  await fastify.register(async (scope) => registerObjectUploadRoute(scope, app));
  await fastify.register(async (scope) => registerMultipartUploadRoutes(scope, app));
  await fastify.register(async (scope) => registerMinioAuditRoute(scope, app));
  await fastify.register(async (scope) => registerProtoPublishRoute(scope, app));
  await fastify.register(async (scope) => registerProtoGeneratedRoute(scope, app));
  await fastify.register(async (scope) => registerTempUploadRoute(scope, app));
  await fastify.register(async (scope) => registerUserDataUploadRoute(scope, app));
  await fastify.register(async (scope) => registerLogUploadRoute(scope, app));
  await fastify.register(async (scope) => registerConfigPutRoutes(scope, app));
  await fastify.register(async (scope) => registerModelBlobRoute(scope, app));
  return fastify;
}

export async function startHttpServer(app: AppContext): Promise<HttpServer> {
  const lifecycle: Lifecycle = { closing: false };
  const fastify = await buildHttpApp(app, lifecycle);
  const address = await fastify.listen({ host: app.config.http.host, port: app.config.http.port });
  let closing: Promise<void> | undefined;
  const close = async () => {
    lifecycle.closing = true;
    const graceMs = app.config.shutdownGraceSeconds * 1000;
    // fastify.close() waits for every open connection; past the grace period, cut what is left.
    const timer = setTimeout(() => {
      app.logger.warn(
        { graceSeconds: app.config.shutdownGraceSeconds },
        "grace period over: closing connections",
      );
      fastify.server.closeAllConnections();
    }, graceMs);
    try {
      await fastify.close();
    } finally {
      clearTimeout(timer);
    }
  };
  return {
    address,
    fastify,
    close: () => {
      closing ??= close();
      return closing;
    },
  };
}
