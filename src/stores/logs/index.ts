import type { Logger } from "pino";
import type { Config } from "../../config/config.ts";
import type { StorageService } from "../../core/storage-service.ts";
import { LogArchive } from "./archive.ts";

export { LogArchive, type LogTarget } from "./archive.ts";
export type { CompactResult } from "./compact.ts";
export type { HourFile } from "./keys.ts";
export { writeLogObject } from "./objects.ts";
export type { DayObject, DayQuery } from "./read.ts";
export type { RotateReport } from "./rotate.ts";

/**
 * The log archive (a store: above the core, below the transports) in the logs bucket: uploads and
 * batched appends per service, date and hour, compaction of closed hours, a day's lines read back
 * in order with filters, and rotation by the log's date.
 */
export function createLogArchive(deps: {
  service: StorageService;
  config: Config;
  logger: Logger;
}): LogArchive {
  const { logs } = deps.config;
  return new LogArchive({
    service: deps.service,
    bucket: deps.config.buckets.logs,
    compression: logs.compression,
    retentionDays: logs.retentionDays,
    flushBytes: logs.flushBytes,
    flushIntervalSeconds: logs.flushIntervalSeconds,
    compactIntervalSeconds: logs.compactIntervalSeconds,
    logger: deps.logger,
  });
}
