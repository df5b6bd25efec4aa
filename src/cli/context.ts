import { type AppContext, createApp } from "../app.ts";
import { type Config, loadConfig } from "../config/config.ts";
import { createLogger, type Logger } from "../log.ts";
import type { Output } from "./output.ts";

export type Env = Record<string, string | undefined>;

/** One-shot commands log only warnings unless LOG_LEVEL says otherwise; `serve` uses the config. */
export type RunMode = "one-shot" | "serve";

export interface CliIo {
  stdout: NodeJS.WritableStream & { isTTY?: boolean };
  stderr: NodeJS.WritableStream & { isTTY?: boolean };
}

export interface CliContext {
  env: Env;
  io: CliIo;
  /** Loaded (and validated) on first use, once per process. */
  config(): Config;
  logger(mode: RunMode): Logger;
  output(options: { json?: boolean }): Output;
  /**
   * Builds the app, runs `body` and always closes the app. The signal aborts on the first SIGINT or
   * SIGTERM (uploads then cancel cleanly); a second one exits at once.
   */
  withApp<T>(mode: RunMode, body: (app: AppContext, signal: AbortSignal) => Promise<T>): Promise<T>;
}

export function logLevelFor(mode: RunMode, env: Env, config: Config): Config["log"]["level"] {
  if (mode === "serve" || env.LOG_LEVEL) return config.log.level;
  return "warn";
}

export function createCliContext(env: Env, io: CliIo): CliContext {
  let config: Config | undefined;
  const loggers = new Map<RunMode, Logger>();
  const ctx: CliContext = {
    env,
    io,
    config: () => {
      config ??= loadConfig(env);
      return config;
    },
    logger: (mode) => {
      let logger = loggers.get(mode);
      if (!logger) {
        logger = createLogger({ log: { level: logLevelFor(mode, env, ctx.config()) } });
        loggers.set(mode, logger);
      }
      return logger;
    },
    output: ({ json }) => ({ json: json === true, stdout: io.stdout, stderr: io.stderr }),
    withApp: async (mode, body) => {
      const app = await createApp(ctx.config(), ctx.logger(mode));
      const controller = new AbortController();
      const onSignal = (signal: NodeJS.Signals) => {
        if (controller.signal.aborted) process.exit(130);
        app.logger.info({ signal }, "stopping (send the signal again to exit at once)");
        controller.abort();
      };
      process.on("SIGINT", onSignal);
      process.on("SIGTERM", onSignal);
      try {
        return await body(app, controller.signal);
      } finally {
        process.off("SIGINT", onSignal);
        process.off("SIGTERM", onSignal);
        await app.close();
      }
    },
  };
  return ctx;
}
