import { readFile } from "node:fs/promises";
import { hostname } from "node:os";
import { type AppContext, createApp } from "../app.ts";
import { type Config, loadConfig } from "../config/config.ts";
import { createLogger, type Logger } from "../log.ts";
import { readDataDirLock } from "../metadata/data-dir-lock.ts";
import type { StorageApi } from "./api.ts";
import { localApi } from "./local-api.ts";
import type { Output } from "./output.ts";
import { remoteApi } from "./remote/http-api.ts";
import { profilePath, readProfile } from "./remote/profile.ts";
import { type LockHolder, type RemoteFlags, type RemoteTarget, resolveTarget } from "./remote/target.ts";

export type Env = Record<string, string | undefined>;

/** One-shot commands log only warnings unless LOG_LEVEL says otherwise; `serve` uses the config. */
export type RunMode = "one-shot" | "serve";

export interface CliIo {
  stdout: NodeJS.WritableStream & { isTTY?: boolean };
  stderr: NodeJS.WritableStream & { isTTY?: boolean };
  /** Only `login` reads it (a token piped in or typed). */
  stdin?: NodeJS.ReadableStream & { isTTY?: boolean };
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
  /** The service a command goes to (remote/target.ts), or undefined for local mode. */
  target(flags: RemoteFlags): Promise<RemoteTarget | undefined>;
  /**
   * Runs `body` on the service the target names, or else locally (withApp): commands that work
   * both ways call this and never ask which mode they are in.
   */
  withApi<T>(flags: RemoteFlags, body: (api: StorageApi, signal: AbortSignal) => Promise<T>): Promise<T>;
}

export function logLevelFor(mode: RunMode, env: Env, config: Config): Config["log"]["level"] {
  if (mode === "serve" || env.LOG_LEVEL) return config.log.level;
  return "warn";
}

const isInMemory = (dir: string) => dir === "" || dir === "memory://";

/** Aborts on the first SIGINT/SIGTERM; a second one exits at once. */
async function withSignals<T>(
  onFirst: (signal: NodeJS.Signals) => void,
  body: (signal: AbortSignal) => Promise<T>,
): Promise<T> {
  const controller = new AbortController();
  const onSignal = (signal: NodeJS.Signals) => {
    if (controller.signal.aborted) process.exit(130);
    onFirst(signal);
    controller.abort();
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  try {
    return await body(controller.signal);
  } finally {
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
  }
}

export function createCliContext(env: Env, io: CliIo): CliContext {
  let config: Config | undefined;
  const loggers = new Map<RunMode, Logger>();
  const profile = profilePath(env);

  /** The live process holding the embedded database, if the configuration uses one. */
  const readLock = async (): Promise<LockHolder | undefined> => {
    const database = ctx.config().database;
    if (database.url || isInMemory(database.pgliteDir)) return undefined;
    const holder = await readDataDirLock(database.pgliteDir);
    if (!holder || holder.hostname === hostname()) return holder;
    // Held from another host (a shared volume): its loopback address would reach this host instead.
    const { http: _notReachable, ...elsewhere } = holder;
    return elsewhere;
  };
  const readKeyFile = async () => {
    const text = await readFile(ctx.config().auth.bootstrapKeyFile, "utf8").catch(() => "");
    return text.trim() || undefined;
  };

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
        const settings = ctx.config();
        logger = createLogger({
          log: { level: logLevelFor(mode, env, settings), format: settings.log.format },
        });
        loggers.set(mode, logger);
      }
      return logger;
    },
    output: ({ json }) => ({ json: json === true, stdout: io.stdout, stderr: io.stderr }),
    withApp: async (mode, body) => {
      const app = await createApp(ctx.config(), ctx.logger(mode));
      try {
        return await withSignals(
          (signal) => app.logger.info({ signal }, "stopping (send the signal again to exit at once)"),
          (signal) => body(app, signal),
        );
      } finally {
        await app.close();
      }
    },
    target: (flags) =>
      resolveTarget({
        flags,
        env,
        ...(profile ? { profile: { path: profile, read: () => readProfile(profile) } } : {}),
        readLock,
        readKeyFile,
      }),
    withApi: async (flags, body) => {
      const target = await ctx.target(flags);
      if (!target) return ctx.withApp("one-shot", (app, signal) => body(localApi(app), signal));
      return withSignals(
        () => {},
        (signal) => body(remoteApi(target), signal),
      );
    },
  };
  return ctx;
}
