import type { Command } from "commander";
import { dataDirLockOf } from "../../metadata/database.ts";
import { shipOwnLogs } from "../../observability/self-log.ts";
import { startGrpcServer } from "../../transports/grpc/server.ts";
import { startHttpServer } from "../../transports/http/server.ts";
import type { CliContext } from "../context.ts";
import { explainListenFailure, explainStoreFailure } from "../startup-errors.ts";
import { commonOptions } from "./args.ts";
import { localGrpcAddress, localHttpUrl } from "./local-address.ts";

const HTTP_SETTING = { setting: "HTTP_PORT", hostSetting: "HTTP_HOST" } as const;
const GRPC_SETTING = { setting: "GRPC_PORT", hostSetting: "GRPC_HOST" } as const;

const untilAborted = (signal: AbortSignal) =>
  new Promise<void>((resolve) => {
    if (signal.aborted) resolve();
    else signal.addEventListener("abort", () => resolve(), { once: true });
  });

export function registerServe(program: Command, ctx: CliContext): void {
  commonOptions(
    program
      .command("serve")
      .description(
        "run the HTTP and gRPC servers until SIGINT or SIGTERM (bootstraps buckets first when configured)",
      ),
    { json: false },
  ).action(async () => {
    await ctx.withApp("serve", async (app, signal) => {
      const log = app.logger;
      if (app.config.storage.bootstrapOnStart) {
        const changes = await app.bootstrap().catch((err: unknown) => {
          throw explainStoreFailure(err, app.config);
        });
        // Settings a backend cannot apply (the local one has no versioning, lifecycle, encryption
        // or policies) are one line at info, each at debug: they are expected, not news.
        const skipped = changes.filter((change) => change.action === "skipped");
        for (const change of changes) {
          if (change.action === "skipped") log.debug(change, "bootstrap skipped a setting");
          else log.info(change, "bootstrap change");
        }
        if (skipped.length > 0) {
          const settings = [...new Set(skipped.map((c) => c.detail.split(":")[0]))].join(", ");
          log.info(
            { skipped: skipped.length, settings, backend: app.config.storage.backend },
            `bootstrap skipped ${skipped.length} bucket settings this backend does not support (${settings}); details at LOG_LEVEL=debug`,
          );
        }
        log.info({ changes: changes.length - skipped.length }, "bootstrap done");
      }
      if (signal.aborted) return;
      // A fresh install's first admin key goes to its key file; the terminal learns where, and sees
      // the token only when stderr is a TTY (a person watching; a pipe may well be a log collector).
      await app.security.start({
        announce: (text) => ctx.io.stderr.write(`${text}\n`),
        showToken: ctx.io.stderr.isTTY === true,
      });
      app.tempStore.start(); // the periodic sweep of expired temp objects (TEMP_SWEEP_INTERVAL)
      app.logArchive.start(); // compaction of closed log hours (LOG_STORAGE_COMPACT_INTERVAL)
      app.alerts.start(); // threshold checks every ALERT_CHECK_INTERVAL
      // LOG_SHIP_TO_ARCHIVE: this process's own lines also go to the logs bucket, until shutdown.
      const ownLogs = app.config.logs.shipOwn
        ? shipOwnLogs(app.logger, app.logArchive, app.config.logs.shipLevel)
        : undefined;
      app.service.sessions.start(); // aborts expired upload sessions (UPLOAD_SESSION_SWEEP_INTERVAL)
      const { http: httpSettings, grpc: grpcSettings } = app.config;
      const server = await startHttpServer(app).catch((err: unknown) => {
        throw explainListenFailure(err, {
          ...HTTP_SETTING,
          host: httpSettings.host,
          port: httpSettings.port,
        });
      });
      log.info({ address: server.address }, "listening");
      let grpc: Awaited<ReturnType<typeof startGrpcServer>>;
      try {
        grpc = await startGrpcServer(app);
      } catch (err) {
        await server.close(); // e.g. the gRPC port is taken: do not leave HTTP running alone
        throw explainListenFailure(err, {
          ...GRPC_SETTING,
          host: grpcSettings.host,
          port: grpcSettings.port,
        });
      }
      // Recorded before announcing it, so whoever waits for "grpc listening" finds the addresses: a
      // CLI on this host sends its commands here instead of opening the embedded database itself.
      const lock = dataDirLockOf(app.db);
      if (lock) {
        const http = localHttpUrl(server.address, app.config.http.host);
        await lock
          .update({ http, grpc: localGrpcAddress(grpc.address, app.config.grpc.host) })
          .catch((err: unknown) =>
            log.warn({ err }, "could not record the addresses in the data directory lock"),
          );
      }
      log.info({ address: grpc.address }, "grpc listening");
      await untilAborted(signal);
      // Stop taking requests and let in-flight ones finish (gRPC within SHUTDOWN_GRACE_PERIOD,
      // then cancelled); withApp then closes the app.
      log.info("shutting down");
      await Promise.all([server.close(), grpc.close()]);
      log.info("stopped");
      ownLogs?.detach(); // before withApp closes the app, which flushes what the archive holds
    });
  });
}
