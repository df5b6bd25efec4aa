import pino, { type Logger } from "pino";
import pretty from "pino-pretty";
import type { Config } from "./config/config.ts";

/** Paths whose values never reach a log line, whatever object they come in. */
const REDACT = [
  "*.secretAccessKey",
  "*.secretKey",
  "*.password",
  "*.authorization",
  "*.Authorization",
  "*.token",
  "*.secret",
  "req.headers.authorization",
  "req.headers.cookie",
  'req.headers["x-amz-server-side-encryption-customer-key"]',
  "*.sseCustomerKey",
  "*.headers.authorization",
  // Raw URLs may carry presigned signatures; the access log writes `path` and a redacted `query`.
  "*.url",
];

type LogFormat = Config["log"]["format"];

/** The logger's settings; `format` defaults to auto (the CLI's one-off commands pass only a level). */
export interface LogSettings {
  log: { level: Config["log"]["level"]; format?: LogFormat };
}

/** auto: pretty for a person at a terminal, JSON for anything that collects (a pipe, a file, a container log). */
export const wantsPretty = (format: LogFormat | undefined, isTty: boolean): boolean =>
  format === "pretty" || (format !== "json" && isTty);

/**
 * Logs go to stderr (stdout is the CLI's output). Pretty lines are one per entry, with a local
 * clock time instead of epoch milliseconds; pid, hostname and the constant service name are left
 * out, everything else stays. Written synchronously, like pino.destination(2), so nothing is lost
 * when the process exits on a fatal start-up error.
 */
export function createLogger(config: LogSettings, destination?: pino.DestinationStream): Logger {
  const options: pino.LoggerOptions = {
    level: config.log.level,
    base: { service: "lumenslate-storage" },
    redact: { paths: REDACT, censor: "[redacted]" },
    serializers: { err: pino.stdSerializers.err },
  };
  if (destination) return pino(options, destination);
  if (wantsPretty(config.log.format, process.stderr.isTTY === true)) {
    const stream = pretty({
      destination: 2,
      sync: true,
      colorize: process.stderr.isTTY === true,
      singleLine: true,
      translateTime: "SYS:HH:MM:ss.l",
      ignore: "pid,hostname,service",
    });
    return pino(options, stream);
  }
  return pino(options, pino.destination(2));
}

export type { Logger };
