import type { Logger } from "pino";
import type { Config } from "../../config/config.ts";
import type { StorageService } from "../../core/storage-service.ts";
import type { Database } from "../../metadata/database.ts";
import { Temp } from "./temp-store.ts";
import type { TempStore } from "./types.ts";

export type * from "./types.ts";

/** Temp storage (a store: above the core, below the transports); see temp-store.ts. */
export function createTempStore(deps: {
  service: StorageService;
  db: Database;
  config: Config;
  logger: Logger;
}): TempStore {
  const { config } = deps;
  return new Temp({
    service: deps.service,
    db: deps.db,
    bucket: config.buckets.temp,
    limits: config.temp,
    sweepIntervalSeconds: config.temp.sweepIntervalSeconds,
    lifecycleDays: config.bucketSettings.tempExpiryDays,
    logger: deps.logger,
  });
}
