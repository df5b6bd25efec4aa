import type { Command } from "commander";
import { startHttpServer } from "../../transports/http/server.ts";
import type { CliContext } from "../context.ts";
import { commonOptions } from "./args.ts";

const untilAborted = (signal: AbortSignal) =>
  new Promise<void>((resolve) => {
    if (signal.aborted) resolve();
    else signal.addEventListener("abort", () => resolve(), { once: true });
  });

export function registerServe(program: Command, ctx: CliContext): void {
  commonOptions(
    program
      .command("serve")
      .description("run the HTTP server until SIGINT or SIGTERM (bootstraps buckets first when configured)"),
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
      const server = await startHttpServer(app);
      log.info({ address: server.address }, "listening");
      await untilAborted(signal);
      // Stop taking requests and let in-flight ones finish; withApp then closes the app.
      log.info("shutting down");
      await server.close();
      log.info("stopped");
    });
  });
}
