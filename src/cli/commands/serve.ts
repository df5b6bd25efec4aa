import type { Command } from "commander";
import { dataDirLockOf } from "../../metadata/database.ts";
import { startGrpcServer } from "../../transports/grpc/server.ts";
import { startHttpServer } from "../../transports/http/server.ts";
import type { CliContext } from "../context.ts";
import { commonOptions } from "./args.ts";
import { localGrpcAddress, localHttpUrl } from "./local-address.ts";

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
        const changes = await app.bootstrap();
        for (const change of changes) log.info(change, "bootstrap change");
        log.info({ changes: changes.length }, "bootstrap done");
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
      const server = await startHttpServer(app);
      log.info({ address: server.address }, "listening");
      let grpc: Awaited<ReturnType<typeof startGrpcServer>>;
      try {
        grpc = await startGrpcServer(app);
      } catch (err) {
        await server.close(); // e.g. the gRPC port is taken: do not leave HTTP running alone
        throw err;
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
    });
  });
}
