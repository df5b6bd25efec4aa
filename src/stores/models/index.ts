import type { Logger } from "pino";
import type { BucketAdmin } from "../../backends/bucket-admin.ts";
import type { Config } from "../../config/config.ts";
import type { StorageService } from "../../core/storage-service.ts";
import type { Database } from "../../metadata/database.ts";
import { Blobs } from "./blobs.ts";
import { EncryptionCheck } from "./encryption.ts";
import { Registry } from "./registry.ts";
import { Models } from "./store.ts";
import type { ModelStore } from "./types.ts";

export { BLOB_PREFIX, blobKey } from "./blobs.ts";
export type * from "./types.ts";

/**
 * The model artifact store (a store: above the core, below the transports): content-addressed,
 * optionally compressed blobs in the model bucket (blobs.ts), versions, manifests and aliases in
 * PostgreSQL (registry.ts), gc of unreferenced blobs (gc.ts). `admin` (absent on the local backend)
 * checks MODEL_STORAGE_ENCRYPTION (encryption.ts).
 */
export function createModelStore(deps: {
  service: StorageService;
  db: Database;
  config: Config;
  logger: Logger;
  admin?: BucketAdmin;
}): ModelStore {
  const { config } = deps;
  const bucket = config.buckets.modelArtifacts;
  return new Models({
    blobs: new Blobs(deps.service, bucket, config.model.compression),
    registry: new Registry(deps.db, bucket),
    encryption: new EncryptionCheck({
      ...(deps.admin ? { admin: deps.admin } : {}),
      bucket,
      required: config.model.encryption,
      logger: deps.logger,
    }),
    logger: deps.logger,
  });
}
