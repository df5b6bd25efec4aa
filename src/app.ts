import { fileURLToPath } from "node:url";
import type { BucketAdmin } from "./backends/bucket-admin.ts";
import { LocalStore } from "./backends/local/local-store.ts";
import { type ClusterHealth, MinioHealth } from "./backends/minio-health.ts";
import type { ObjectStore } from "./backends/object-store.ts";
import { createS3Client, readCa } from "./backends/s3/client.ts";
import { instrumentS3Client } from "./backends/s3/instrument.ts";
import { S3BucketAdmin } from "./backends/s3/s3-bucket-admin.ts";
import { S3Store } from "./backends/s3/s3-store.ts";
import { type BootstrapChange, bootstrapBuckets } from "./buckets/bootstrap.ts";
import type { Config } from "./config/config.ts";
import { StorageService } from "./core/storage-service.ts";
import type { Logger } from "./log.ts";
import { type Database, openDatabase, pingDatabase, sharedPool } from "./metadata/database.ts";
import { MetadataRepository } from "./metadata/repository.ts";
import { IndexStats } from "./metadata/stats.ts";
import { type AlertEvaluator, createAlerts } from "./observability/alerts/index.ts";
import { Metrics } from "./observability/metrics.ts";
import { statsMetrics } from "./observability/stats-metrics.ts";
import { StorageStats } from "./observability/storage-stats.ts";
import { createSecurity, type Security } from "./security/index.ts";
import { RateLimiter } from "./security/rate-limit.ts";
import { type ConfigStore, createConfigStore } from "./stores/config/index.ts";
import { createLogArchive, type LogArchive } from "./stores/logs/index.ts";
import { createModelStore, type ModelStore } from "./stores/models/index.ts";
import { createProtoRegistry, type ProtoRegistry } from "./stores/proto/index.ts";
import { createTempStore, type TempStore } from "./stores/temp/index.ts";
import { createUserDataStore, type UserDataStore } from "./stores/user-data/index.ts";

/** Template files for bucket policies ship in the repository, beside src/. */
export const POLICIES_DIR = fileURLToPath(new URL("../policies", import.meta.url));

/** Everything a transport needs, built once from Config: backends → metadata → core. */
export interface AppContext {
  config: Config;
  logger: Logger;
  store: ObjectStore;
  admin?: BucketAdmin;
  db: Database;
  /** The metadata index the core writes; for reads by tools and tests (writes go through `service`). */
  index: MetadataRepository;
  service: StorageService;
  /** Versioned .proto sets (stores/proto): validated, checked for breaking changes, with generated code. */
  protos: ProtoRegistry;
  /** Log files per service, date and hour (stores/logs): batched appends, compaction, rotation. */
  logArchive: LogArchive;
  /** User uploads with per-user quotas (stores/user-data). */
  userData: UserDataStore;
  /** Uploads with a time to live (stores/temp): refused once expired, swept, lifecycle as backstop. */
  tempStore: TempStore;
  /** Versioned JSON/YAML config documents with schemas, and feature flags (stores/config). */
  configStore: ConfigStore;
  /** Model artifacts (stores/models): content-addressed blobs, versions, aliases, gc. */
  models: ModelStore;
  /** Prometheus metrics on a private registry; transports add their own series. */
  metrics: Metrics;
  /** Usage per bucket and prefix from the index, and its check against the store (read-only). */
  stats: StorageStats;
  /** Threshold checks (ALERT_*): periodic after alerts.start(), on demand with alerts.check(). */
  alerts: AlertEvaluator;
  /** One limiter shared by the HTTP and gRPC servers. */
  rateLimiter: RateLimiter;
  /** API keys, scopes, audit: the one security layer both servers call. */
  security: Security;
  bootstrap(): Promise<BootstrapChange[]>;
  /**
   * Resolves when both the object store and the database answer; throws UNAVAILABLE otherwise.
   * `store` is "degraded" when a MinIO cluster serves but has no node to spare (minio-health.ts).
   */
  ready(signal?: AbortSignal): Promise<Readiness>;
  close(): Promise<void>;
}

export interface Readiness {
  store: ClusterHealth;
}

interface Backends {
  store: ObjectStore;
  admin?: BucketAdmin;
  /** MinIO only: its cluster health API, for a degraded-but-serving cluster. */
  health?: MinioHealth;
}

function createBackends(config: Config, metrics: Metrics): Backends {
  if (config.storage.backend === "local") return { store: new LocalStore(config.storage.localRoot) };
  const client = createS3Client(config.s3);
  instrumentS3Client(client, metrics.observeBackendCall);
  const store = new S3Store(client, {
    partSize: config.storage.multipart.partSize,
    queueSize: config.storage.multipart.concurrency,
    probeBucket: config.buckets.userData,
  });
  const admin = new S3BucketAdmin(client, { flavour: config.s3.flavour });
  if (config.s3.flavour !== "minio" || !config.s3.endpoint) return { store, admin };
  const ca = config.s3.caFile ? readCa(config.s3.caFile) : undefined;
  return { store, admin, health: new MinioHealth({ endpoint: config.s3.endpoint, ...(ca ? { ca } : {}) }) };
}

export async function createApp(config: Config, logger: Logger): Promise<AppContext> {
  const metrics = new Metrics({ buckets: Object.values(config.buckets) });
  const { store, admin, health } = createBackends(config, metrics);
  let db: Database;
  try {
    db = await openDatabase(config.database);
  } catch (err) {
    await store.close();
    throw err;
  }
  const index = new MetadataRepository(db);
  const service = new StorageService({
    store,
    index,
    settings: config.storage,
    logger,
    db,
  });
  metrics.watchAdmission(() => service.admission);
  metrics.watchRederivedRows(() => service.rederivedRows);
  // With a PostgreSQL server, rate-limit budgets live in it and so are shared by every instance of
  // the deployment; an embedded database is one process's own, so budgets stay in memory.
  const pool = sharedPool(db);
  const rateLimitStore = pool ? { client: pool, namespace: config.storage.bucketPrefix } : undefined;
  const security = createSecurity({
    config,
    db,
    service,
    logger,
    ...(rateLimitStore ? { rateLimitStore } : {}),
  });
  const logArchive = createLogArchive({ service, config, logger });
  const usageMetrics = statsMetrics(metrics.registry);
  const stats = new StorageStats({
    stats: new IndexStats(db),
    index,
    service,
    buckets: Object.values(config.buckets),
    metrics: usageMetrics,
  });
  const alerts = createAlerts({
    settings: config.alerts,
    db,
    stats,
    registry: metrics.registry,
    metrics: usageMetrics,
    logger,
    ...(health
      ? {
          cluster: () =>
            health.check().catch((err: unknown) => {
              logger.warn({ err }, "alert check: MinIO cluster health unknown");
              return "unavailable" as const;
            }),
        }
      : {}),
    ...(config.storage.backend === "local" ? { localRoot: config.storage.localRoot } : {}),
  });
  const tempStore = createTempStore({ service, db, config, logger });
  return {
    config,
    logger,
    store,
    ...(admin ? { admin } : {}),
    db,
    index,
    service,
    protos: createProtoRegistry({ service, config, logger }),
    logArchive,
    userData: createUserDataStore({ service, db, config }),
    tempStore,
    configStore: createConfigStore({ service, config }),
    models: createModelStore({ service, db, config, logger, ...(admin ? { admin } : {}) }),
    metrics,
    stats,
    alerts,
    rateLimiter: new RateLimiter(config.rateLimit, rateLimitStore),
    security,
    bootstrap: () =>
      bootstrapBuckets({ store, ...(admin ? { admin } : {}), config, policiesDir: POLICIES_DIR }),
    ready: async (signal) => {
      await Promise.all([store.ping(signal), pingDatabase(db)]);
      return { store: health ? await health.check(signal) : "ok" };
    },
    close: async () => {
      tempStore.stop();
      service.sessions.stop();
      await alerts.close();
      // Appended log lines still buffered are written before the store closes.
      await logArchive
        .close()
        .catch((err: unknown) => logger.error({ err }, "flushing buffered log lines failed"));
      await security.close();
      await Promise.allSettled([store.close(), db.destroy()]);
    },
  };
}
