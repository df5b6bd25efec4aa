import type { Config } from "../../config/config.ts";
import type { StorageService } from "../../core/storage-service.ts";
import type { Database } from "../../metadata/database.ts";
import { QuotaLedger } from "./quota.ts";
import { UserDataStore } from "./store.ts";

export type { Usage } from "./quota.ts";
export type { DeleteAllReport, UserFile, UserUpload } from "./store.ts";
export { UserDataStore };

/** User uploads (a store: above the core, below the transports), quotas kept in the metadata database. */
export function createUserDataStore(deps: {
  service: StorageService;
  db: Database;
  config: Config;
}): UserDataStore {
  const { config } = deps;
  return new UserDataStore({
    service: deps.service,
    bucket: config.buckets.userData,
    quota: new QuotaLedger(deps.db, {
      bytes: config.userData.quotaBytes,
      objects: config.userData.quotaObjects,
    }),
  });
}
