import { createApp } from "../src/app.ts";
import { loadConfig } from "../src/config/config.ts";
import { createLogger } from "../src/log.ts";
import { parseScope } from "../src/security/index.ts";
import { startGrpcServer } from "../src/transports/grpc/server.ts";
import { startHttpServer } from "../src/transports/http/server.ts";
import { serveProfiles } from "./server-profiler.ts";

/**
 * The service as its own process for the transport benchmarks (bench/transports.ts), so the
 * server's peak RSS is measured apart from the clients. Config comes in BENCH_CONFIG_ENV; prints one
 * JSON line {httpPort, grpcPort, token, bucket} once both servers listen, then runs until SIGTERM.
 * With BENCH_PROFILE_DIR, it takes CPU profiles per workload on request (bench/server-profiler.ts).
 */
const config = loadConfig({
  ...JSON.parse(process.env.BENCH_CONFIG_ENV ?? "{}"),
  HTTP_PORT: "0",
  GRPC_PORT: "0",
});
const app = await createApp(config, createLogger(config));
await app.bootstrap();
const issued = await app.security.keys.create({ service: "bench", scopes: [parseScope("*:admin")] });
const http = await startHttpServer(app);
const grpc = await startGrpcServer(app);
if (process.env.BENCH_PROFILE_DIR) await serveProfiles(process.env.BENCH_PROFILE_DIR);
process.stdout.write(
  `${JSON.stringify({
    httpPort: new URL(http.address).port,
    grpcPort: grpc.port,
    token: issued.token.reveal(),
    bucket: config.buckets.temp,
  })}\n`,
);
process.once("SIGTERM", () => {
  void Promise.all([http.close(), grpc.close()])
    .then(() => app.close())
    .finally(() => process.exit(0));
});
