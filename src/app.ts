import { fileURLToPath } from "node:url";
import type { BucketAdmin } from "./backends/bucket-admin.ts";
import { LocalStore } from "./backends/local/local-store.ts";
import type { ObjectStore } from "./backends/object-store.ts";
import { createS3Client } from "./backends/s3/client.ts";
import { instrumentS3Client } from "./backends/s3/instrument.ts";
import { S3BucketAdmin } from "./backends/s3/s3-bucket-admin.ts";
import { S3Store } from "./backends/s3/s3-store.ts";
import { type BootstrapChange, bootstrapBuckets } from "./buckets/bootstrap.ts";
import type { Config } from "./config/config.ts";
import { StorageService } from "./core/storage-service.ts";
import type { Logger } from "./log.ts";
import { type Database, openDatabase, pingDatabase } from "./metadata/database.ts";
import { MetadataRepository } from "./metadata/repository.ts";
import { Metrics } from "./observability/metrics.ts";
import { createSecurity, type Security } from "./security/index.ts";
import { RateLimiter } from "./security/rate-limit.ts";

/** Template files for bucket policies ship in the repository, beside src/. */
export const POLICIES_DIR = fileURLToPath(new URL("../policies", import.meta.url));

/** Everything a transport needs, built once from Config: backends → metadata → core. */
export interface AppContext {
  config: Config;
  logger: Logger;
  store: ObjectStore;
  admin?: BucketAdmin;
  db: Database;
  service: StorageService;
  /** Prometheus metrics on a private registry; transports add their own series. */
  metrics: Metrics;
  /** One limiter shared by the HTTP and gRPC servers. */
  rateLimiter: RateLimiter;
  /** API keys, scopes, audit: the one security layer both servers call. */
  security: Security;
  bootstrap(): Promise<BootstrapChange[]>;
  /** Resolves when both the object store and the database answer; throws UNAVAILABLE otherwise. */
  ready(signal?: AbortSignal): Promise<void>;
  close(): Promise<void>;
}

function createBackends(config: Config, metrics: Metrics): { store: ObjectStore; admin?: BucketAdmin } {
  if (config.storage.backend === "local") return { store: new LocalStore(config.storage.localRoot) };
  const client = createS3Client(config.s3);
  instrumentS3Client(client, metrics.observeBackendCall);
  const store = new S3Store(client, {
    partSize: config.storage.multipart.partSize,
    queueSize: config.storage.multipart.concurrency,
    probeBucket: config.buckets.userData,
  });
  return { store, admin: new S3BucketAdmin(client, { flavour: config.s3.flavour }) };
}

export async function createApp(config: Config, logger: Logger): Promise<AppContext> {
  const metrics = new Metrics();
  const { store, admin } = createBackends(config, metrics);
  let db: Database;
  try {
    db = await openDatabase(config.database);
  } catch (err) {
    await store.close();
    throw err;
  }
  const service = new StorageService({
    store,
    index: new MetadataRepository(db),
    settings: config.storage,
    logger,
  });
  metrics.watchAdmission(() => service.admission);
  metrics.watchRederivedRows(() => service.rederivedRows);
  const security = createSecurity({ config, db, service, logger });
  return {
    config,
    logger,
    store,
    ...(admin ? { admin } : {}),
    db,
    service,
    metrics,
    rateLimiter: new RateLimiter(config.rateLimit),
    security,
    bootstrap: () =>
      bootstrapBuckets({ store, ...(admin ? { admin } : {}), config, policiesDir: POLICIES_DIR }),
    ready: async (signal) => {
      await Promise.all([store.ping(signal), pingDatabase(db)]);
    },
    close: async () => {
      await security.close();
      await Promise.allSettled([store.close(), db.destroy()]);
    },
  };
}
