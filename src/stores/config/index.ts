import type { Config } from "../../config/config.ts";
import type { StorageService } from "../../core/storage-service.ts";
import { ConfigObjects } from "./objects.ts";
import { Store } from "./store.ts";
import type { ConfigStore } from "./types.ts";

export { FLAG_PREFIX } from "./flags.ts";
export type * from "./types.ts";

/**
 * Dynamic configuration and feature flags (a store: above the core, below the transports):
 * versioned JSON/YAML documents in the config bucket with optional JSON Schemas, history, diff and
 * rollback, and flag evaluation with a short per-instance cache. See objects.ts for the layout.
 */
export function createConfigStore(deps: { service: StorageService; config: Config }): ConfigStore {
  const { configStore, buckets } = deps.config;
  return new Store({
    objects: new ConfigObjects(deps.service, buckets.config),
    maxDocumentBytes: configStore.maxDocumentBytes,
    flagCacheTtlSeconds: configStore.flagCacheTtlSeconds,
  });
}
export { checkFlagName, checkName } from "./names.ts";
