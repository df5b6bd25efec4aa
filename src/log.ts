import pino, { type Logger } from "pino";
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
  "*.url",
];

export function createLogger(config: Pick<Config, "log">, destination?: pino.DestinationStream): Logger {
  return pino(
    {
      level: config.log.level,
      base: { service: "lumenslate-storage" },
      redact: { paths: REDACT, censor: "[redacted]" },
      serializers: { err: pino.stdSerializers.err },
    },
    destination ?? pino.destination(2),
  );
}

export type { Logger };
