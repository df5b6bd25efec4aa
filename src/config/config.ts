import { z } from "zod";
import { Secret } from "./secret.ts";
import { parseDurationSeconds, parseSize } from "./size.ts";

/**
 * The one place that reads the environment. Every variable is validated here, once, into a typed
 * Config that is passed down explicitly. A bad value throws ConfigError naming the variable and what
 * it accepts, never its value (it may be a secret).
 */

export class ConfigError extends Error {
  override name = "ConfigError";
}

const bool = (fallback: boolean) =>
  z
    .enum(["true", "false", "1", "0", "yes", "no"], { error: "must be true or false" })
    .default(fallback ? "true" : "false")
    .transform((v) => v === "true" || v === "1" || v === "yes");

const size = (fallback: string) =>
  z
    .string()
    .default(fallback)
    .transform((text, ctx) => {
      const bytes = parseSize(text);
      if (bytes === undefined || bytes <= 0) {
        ctx.addIssue({ code: "custom", message: "must be a positive size such as 100MB, 1GiB or 1048576" });
        return z.NEVER;
      }
      return bytes;
    });

const seconds = (fallback: string) =>
  z
    .string()
    .default(fallback)
    .transform((text, ctx) => {
      const value = parseDurationSeconds(text);
      if (value === undefined || value <= 0) {
        ctx.addIssue({ code: "custom", message: "must be a positive duration such as 900, 15m, 24h or 7d" });
        return z.NEVER;
      }
      return value;
    });

const int = (fallback: number, min: number, max: number) =>
  z.coerce
    .number({ error: `must be a whole number from ${min} to ${max}` })
    .int({ error: `must be a whole number from ${min} to ${max}` })
    .min(min, { error: `must be a whole number from ${min} to ${max}` })
    .max(max, { error: `must be a whole number from ${min} to ${max}` })
    .default(fallback);

const list = (fallback: string) =>
  z
    .string()
    .default(fallback)
    .transform((text) =>
      text
        .split(",")
        .map((s) => s.trim())
        .filter(Boolean),
    );

const bucketName = (fallback: string) =>
  z
    .string()
    .default(fallback)
    .refine((v) => /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(v), {
      error: "must be a valid S3 bucket name (3-63 chars: a-z, 0-9, '.', '-')",
    });

/** buf's breaking-change rule sets, strictest first (https://buf.build/docs/breaking/rules). */
const BREAKING_RULE_SETS = ["FILE", "PACKAGE", "WIRE_JSON", "WIRE"] as const;
const breakingRules = z.enum(BREAKING_RULE_SETS, { error: "must be FILE, PACKAGE, WIRE_JSON or WIRE" });

const optionalSecret = z
  .string()
  .optional()
  .transform((v) => (v ? new Secret(v) : undefined));

/** A duration, or "off"/"0" (→ 0) to disable what it schedules. */
const interval = (fallback: string) =>
  z
    .string()
    .default(fallback)
    .transform((text, ctx) => {
      if (/^\s*(off|0)\s*$/i.test(text)) return 0;
      const value = parseDurationSeconds(text);
      if (value === undefined || value < 60) {
        ctx.addIssue({
          code: "custom",
          message: "must be off or a duration of at least 60s such as 15m or 1h",
        });
        return z.NEVER;
      }
      return value;
    });

/** Sample credentials printed in .env.example; a production start with them is refused. */
export const SAMPLE_CREDENTIALS = {
  MINIO_ACCESS_KEY: "lumenslate_minio",
  MINIO_SECRET_KEY: "lumenslate_minio_secret",
} as const;

/** MinIO refuses STS sessions shorter than 15 minutes. */
export const STS_MIN_DURATION_SECONDS = 900;
const STS_CEILING_SECONDS = 12 * 3600;

const envSchema = z.object({
  NODE_ENV: z
    .enum(["development", "production", "test"], { error: "must be development, production or test" })
    .default("development"),
  LOG_LEVEL: z
    .enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"], {
      error: "must be one of fatal, error, warn, info, debug, trace, silent",
    })
    .default("info"),
  // auto: pretty lines when the log stream (stderr) is a terminal, JSON otherwise (for collectors).
  LOG_FORMAT: z.enum(["auto", "json", "pretty"], { error: "must be auto, json or pretty" }).default("auto"),
  HTTP_HOST: z.string().default("0.0.0.0"),
  HTTP_PORT: int(8080, 0, 65535),
  HTTP_IDLE_TIMEOUT: seconds("60s"),
  HTTP_KEEPALIVE_TIMEOUT: seconds("65s"),
  HTTP_HEADERS_TIMEOUT: seconds("30s"),
  HTTP_MAX_HEADER_SIZE: size("16KiB"),
  HTTP_JSON_BODY_LIMIT: size("1MiB"),
  HTTP_INLINE_ACTIVE_CONTENT_BUCKETS: list(""),
  GRPC_HOST: z.string().default("0.0.0.0"),
  GRPC_PORT: int(50051, 0, 65535),
  GRPC_MAX_MESSAGE_SIZE: size("4MiB"),
  GRPC_KEEPALIVE_TIME: seconds("30s"),
  GRPC_KEEPALIVE_TIMEOUT: seconds("10s"),
  SHUTDOWN_GRACE_PERIOD: seconds("15s"),
  RATE_LIMIT_ENABLED: bool(true),
  RATE_LIMIT_REQUESTS: int(1000, 1, 10_000_000),
  RATE_LIMIT_WINDOW: seconds("60s"),

  AUTH_DISABLED: bool(false),
  AUTH_BOOTSTRAP_ADMIN: bool(true),
  AUTH_BOOTSTRAP_KEY_FILE: z.string().default("./data/admin-key"),
  AUTH_BOOTSTRAP_ADMIN_TOKEN_FILE: z.string().optional(),
  AUTH_KEY_CACHE_TTL: seconds("30s"),
  AUTH_KEY_FAILURE_LIMIT: int(20, 1, 1_000_000),
  AUTH_KEY_FAILURE_WINDOW: seconds("60s"),
  AUTH_ADDRESS_FAILURE_LIMIT: int(20, 1, 1_000_000),
  AUTH_ADDRESS_FAILURE_WINDOW: seconds("60s"),
  STS_MAX_DURATION: seconds("1h").refine((v) => v >= STS_MIN_DURATION_SECONDS && v <= STS_CEILING_SECONDS, {
    error: "must be a duration from 15m to 12h (MinIO's STS minimum is 15m)",
  }),
  TLS_CERT_FILE: z.string().optional(),
  TLS_KEY_FILE: z.string().optional(),
  TLS_CLIENT_CA_FILE: z.string().optional(),
  GRPC_REQUIRE_CLIENT_CERT: bool(false),
  MINIO_AUDIT_WEBHOOK_TOKEN: optionalSecret.refine((v) => v === undefined || v.reveal().length >= 16, {
    error: "must be at least 16 characters",
  }),
  AUDIT_EXPORT_INTERVAL: interval("1h"),

  DATABASE_URL: z
    .string()
    .optional()
    .refine((v) => v === undefined || v === "" || /^postgres(ql)?:\/\//.test(v), {
      error: "must be a postgres:// or postgresql:// URL, or unset for the embedded database",
    }),
  PGLITE_DATA_DIR: z.string().default("./data/pglite"),

  STORAGE_BACKEND: z
    .enum(["local", "minio", "s3", "gcs"], { error: "must be local, minio, s3 or gcs" })
    .default("local"),
  STORAGE_LOCAL_ROOT: z.string().default("./data/objects"),
  STORAGE_DEFAULT_BUCKET: bucketName("user-data"),
  STORAGE_MAX_FILE_SIZE: size("100MB"),
  STORAGE_MAX_FILE_SIZE_BY_BUCKET: list(""),
  STORAGE_ALLOWED_EXTENSIONS: list("pdf,doc,docx,txt,json,yaml,yml,pickle,pkl,h5"),
  STORAGE_ALLOWED_EXTENSIONS_BUCKETS: list("user-data"),
  STORAGE_BUCKET_PREFIX: z
    .string()
    .default("")
    .refine((v) => /^([a-z0-9][a-z0-9-]{0,29})?$/.test(v), {
      error: "must be empty or up to 30 chars of a-z, 0-9, '-'",
    }),
  STORAGE_BOOTSTRAP_ON_START: bool(true),
  STORAGE_PRESIGN_DEFAULT_EXPIRY: seconds("15m"),
  STORAGE_PRESIGN_MAX_EXPIRY: seconds("24h"),
  STORAGE_MULTIPART_PART_SIZE: size("16MiB"),
  STORAGE_MULTIPART_CONCURRENCY: int(4, 1, 32),
  UPLOAD_SESSION_TTL: seconds("24h"),
  UPLOAD_SESSION_SWEEP_INTERVAL: interval("15m"),
  STORAGE_MAX_CONCURRENT_UPLOADS: int(256, 1, 100_000),
  STORAGE_MAX_BUFFERED_BYTES: size("1GiB"),
  STORAGE_S3_MAX_SOCKETS: int(64, 1, 1024),
  STORAGE_HASH_THREAD: z.enum(["auto", "on", "off"], { error: "must be auto, on or off" }).default("auto"),
  STORAGE_DEFAULT_ENCRYPTION: bool(false),
  STORAGE_NONCURRENT_VERSION_DAYS: int(90, 1, 36500),
  STORAGE_BUCKET_POLICIES: list(""),

  MINIO_ENDPOINT: z.string().optional(),
  MINIO_ACCESS_KEY: optionalSecret,
  MINIO_SECRET_KEY: optionalSecret,
  MINIO_SECURE: bool(false),
  MINIO_REGION: z.string().default("us-east-1"),
  MINIO_CONSOLE_ENDPOINT: z.string().optional(),
  MINIO_CA_FILE: z.string().optional(),
  MINIO_ADMIN_ACCESS_KEY: optionalSecret,
  MINIO_ADMIN_SECRET_KEY: optionalSecret,
  MC_BINARY: z.string().default("mc"),

  PROTO_STORAGE_BUCKET: bucketName("proto-files"),
  PROTO_STORAGE_VERSIONING: bool(true),
  PROTO_GENERATED_CODE_BUCKET: bucketName("grpc-services"),
  PROTO_BREAKING_RULES: breakingRules.default("WIRE_JSON"),
  PROTO_BREAKING_RULES_BY_SERVICE: list(""),
  PROTO_MAX_SET_BYTES: size("4MiB"),
  PROTO_PYTHON: z.string().default("python3"),
  MODEL_STORAGE_BUCKET: bucketName("model-artifacts"),
  MODEL_STORAGE_COMPRESSION: bool(true),
  MODEL_STORAGE_ENCRYPTION: bool(true),
  MODEL_STORAGE_MAX_FILE_SIZE: size("50GiB"),
  LOG_STORAGE_BUCKET: bucketName("logs"),
  LOG_STORAGE_RETENTION_DAYS: int(30, 1, 36500),
  LOG_STORAGE_COMPRESSION: z.enum(["gzip", "none"], { error: "must be gzip or none" }).default("gzip"),
  LOG_STORAGE_FLUSH_BYTES: size("1MiB"),
  LOG_STORAGE_FLUSH_INTERVAL: seconds("10s"),
  LOG_STORAGE_COMPACT_INTERVAL: interval("10m"),
  BACKUP_STORAGE_BUCKET: bucketName("backups"),
  TEMP_STORAGE_BUCKET: bucketName("temp"),
  TEMP_STORAGE_EXPIRY_DAYS: int(1, 1, 36500),
  TEMP_DEFAULT_TTL: seconds("1h"),
  TEMP_MAX_TTL: seconds("24h"),
  TEMP_SWEEP_INTERVAL: z
    .string()
    .default("5m")
    .transform((text, ctx) => {
      const value = text === "0" ? 0 : parseDurationSeconds(text);
      if (value === undefined || value < 0) {
        ctx.addIssue({ code: "custom", message: "must be 0 (off) or a duration such as 300, 5m or 1h" });
        return z.NEVER;
      }
      return value;
    }),
  USER_DATA_QUOTA_BYTES: size("1GiB"),
  USER_DATA_QUOTA_OBJECTS: int(10000, 1, 1_000_000_000),
  CONFIG_STORAGE_BUCKET: bucketName("config"),
  CONFIG_MAX_DOCUMENT_BYTES: size("1MiB"),
  CONFIG_FLAG_CACHE_TTL_SECONDS: int(5, 0, 3600),
  LOG_SHIP_TO_ARCHIVE: bool(false),
  LOG_SHIP_LEVEL: z
    .enum(["fatal", "error", "warn", "info", "debug"], {
      error: "must be one of fatal, error, warn, info, debug",
    })
    .default("info"),
  ALERT_CHECK_INTERVAL: interval("5m"),
  ALERT_WEBHOOK_URL: z.url({ protocol: /^https?$/, error: "must be an http:// or https:// URL" }).optional(),
  ALERT_WEBHOOK_TIMEOUT: seconds("5s"),
  ALERT_WEBHOOK_RETRIES: int(5, 0, 20),
  ALERT_BUCKET_MAX_BYTES: list(""),
  ALERT_BUCKET_MAX_OBJECTS: list(""),
  ALERT_BUCKET_QUOTA: list(""),
  ALERT_BUCKET_QUOTA_PERCENT: int(80, 1, 100),
  ALERT_ERROR_RATE: z.coerce
    .number({ error: "must be a fraction from 0 to 1, such as 0.05" })
    .min(0, { error: "must be a fraction from 0 to 1, such as 0.05" })
    .max(1, { error: "must be a fraction from 0 to 1, such as 0.05" })
    .optional(),
  ALERT_P99_LATENCY: z.coerce
    .number({ error: "must be a positive number of seconds, such as 2 or 0.5" })
    .positive({ error: "must be a positive number of seconds, such as 2 or 0.5" })
    .optional(),
  ALERT_MINIO_DEGRADED: bool(true),
  ALERT_MIN_FREE_DISK: z
    .string()
    .optional()
    .transform((text, ctx) => {
      if (text === undefined) return undefined;
      const bytes = parseSize(text);
      if (bytes === undefined || bytes <= 0) {
        ctx.addIssue({ code: "custom", message: "must be a positive size such as 10GiB" });
        return z.NEVER;
      }
      return bytes;
    }),
});

/** Every variable the service reads (documented one by one in .env.example). */
export const CONFIG_VARIABLES = Object.keys(envSchema.shape);

export type S3Flavour = "minio" | "s3" | "gcs";

/** A per-bucket size limit and the setting it comes from (named in TOO_LARGE messages). */
export interface SizeLimit {
  bytes: number;
  setting: string;
}

export interface BucketNames {
  protoFiles: string;
  grpcServices: string;
  modelArtifacts: string;
  logs: string;
  userData: string;
  backups: string;
  temp: string;
  config: string;
}

export type Config = ReturnType<typeof buildConfig>;

function endpointUrl(raw: string | undefined, secure: boolean, flavour: S3Flavour): string | undefined {
  if (raw && secure && raw.startsWith("http://")) {
    throw new ConfigError(
      "Invalid configuration: MINIO_SECURE=true contradicts an http:// MINIO_ENDPOINT; use https:// or host:port",
    );
  }
  if (raw) return /^https?:\/\//.test(raw) ? raw : `${secure ? "https" : "http"}://${raw}`;
  if (flavour === "minio") return `${secure ? "https" : "http"}://localhost:9000`;
  if (flavour === "gcs") return "https://storage.googleapis.com";
  return undefined; // AWS: the SDK derives the regional endpoint
}

function buildConfig(env: z.infer<typeof envSchema>) {
  const p = env.STORAGE_BUCKET_PREFIX;
  const buckets: BucketNames = {
    protoFiles: p + env.PROTO_STORAGE_BUCKET,
    grpcServices: p + env.PROTO_GENERATED_CODE_BUCKET,
    modelArtifacts: p + env.MODEL_STORAGE_BUCKET,
    logs: p + env.LOG_STORAGE_BUCKET,
    userData: p + env.STORAGE_DEFAULT_BUCKET,
    backups: p + env.BACKUP_STORAGE_BUCKET,
    temp: p + env.TEMP_STORAGE_BUCKET,
    config: p + env.CONFIG_STORAGE_BUCKET,
  };
  const flavour: S3Flavour = env.STORAGE_BACKEND === "local" ? "minio" : env.STORAGE_BACKEND;
  const checked = env.STORAGE_ALLOWED_EXTENSIONS_BUCKETS;
  return {
    env: env.NODE_ENV,
    log: { level: env.LOG_LEVEL, format: env.LOG_FORMAT },
    http: {
      host: env.HTTP_HOST,
      port: env.HTTP_PORT,
      idleTimeoutSeconds: env.HTTP_IDLE_TIMEOUT,
      keepAliveTimeoutSeconds: env.HTTP_KEEPALIVE_TIMEOUT,
      headersTimeoutSeconds: env.HTTP_HEADERS_TIMEOUT,
      maxHeaderBytes: env.HTTP_MAX_HEADER_SIZE,
      jsonBodyLimit: env.HTTP_JSON_BODY_LIMIT,
      /**
       * Buckets whose HTML, SVG, XML and script objects are served inline instead of as attachments
       * (names as in the *_BUCKET variables, STORAGE_BUCKET_PREFIX added). See content-safety.ts.
       */
      inlineActiveContentBuckets: env.HTTP_INLINE_ACTIVE_CONTENT_BUCKETS.map((b) => p + b),
    },
    grpc: {
      host: env.GRPC_HOST,
      port: env.GRPC_PORT,
      maxMessageBytes: env.GRPC_MAX_MESSAGE_SIZE,
      keepaliveTimeSeconds: env.GRPC_KEEPALIVE_TIME,
      keepaliveTimeoutSeconds: env.GRPC_KEEPALIVE_TIMEOUT,
    },
    shutdownGraceSeconds: env.SHUTDOWN_GRACE_PERIOD,
    rateLimit: {
      enabled: env.RATE_LIMIT_ENABLED,
      requests: env.RATE_LIMIT_REQUESTS,
      windowSeconds: env.RATE_LIMIT_WINDOW,
    },
    auth: {
      /** Only with AUTH_DISABLED=true: every request runs with full rights (said loudly at start-up). */
      disabled: env.AUTH_DISABLED,
      /** On a database that has never held a key, create one admin key (its token goes to bootstrapKeyFile). */
      bootstrapAdmin: env.AUTH_BOOTSTRAP_ADMIN,
      /** Where that key's token is written, once (a new file, mode 0600); never to a log. */
      bootstrapKeyFile: env.AUTH_BOOTSTRAP_KEY_FILE,
      /**
       * A file holding the operator's own `lss_<id>_<secret>` token (e.g. a mounted Kubernetes
       * Secret): that first admin key is adopted instead of generated, and no key file is written.
       */
      bootstrapAdminTokenFile: env.AUTH_BOOTSTRAP_ADMIN_TOKEN_FILE,
      /** How long a verified key is trusted without re-checking; bounds revocation delay across instances. */
      keyCacheTtlSeconds: env.AUTH_KEY_CACHE_TTL,
      /**
       * Failed authentications allowed per presented key id per window, from all addresses together;
       * past it that id is refused (RATE_LIMITED) until the window ends, even with the right secret
       * unless this instance verified that exact token before.
       */
      keyIdFailures: { points: env.AUTH_KEY_FAILURE_LIMIT, windowSeconds: env.AUTH_KEY_FAILURE_WINDOW },
      /** Failed authentications allowed per client address per window; past it the address is refused. */
      addressFailures: {
        points: env.AUTH_ADDRESS_FAILURE_LIMIT,
        windowSeconds: env.AUTH_ADDRESS_FAILURE_WINDOW,
      },
    },
    sts: { maxDurationSeconds: env.STS_MAX_DURATION },
    tls: {
      certFile: env.TLS_CERT_FILE,
      keyFile: env.TLS_KEY_FILE,
      clientCaFile: env.TLS_CLIENT_CA_FILE,
      grpcRequireClientCert: env.GRPC_REQUIRE_CLIENT_CERT,
    },
    audit: {
      /** Bearer token MinIO's audit webhook must present; unset disables the webhook endpoint. */
      webhookToken: env.MINIO_AUDIT_WEBHOOK_TOKEN,
      /** Seconds between export runs; 0 disables the timer (`audit export` still works). */
      exportIntervalSeconds: env.AUDIT_EXPORT_INTERVAL,
    },
    minioAdmin: {
      /** Admin (root) credentials, used only by `bootstrap --provision-users`. */
      accessKey: env.MINIO_ADMIN_ACCESS_KEY,
      secretKey: env.MINIO_ADMIN_SECRET_KEY,
      mcBinary: env.MC_BINARY,
    },
    database: {
      url: env.DATABASE_URL ? new Secret(env.DATABASE_URL) : undefined,
      pgliteDir: env.PGLITE_DATA_DIR,
    },
    storage: {
      backend: env.STORAGE_BACKEND,
      localRoot: env.STORAGE_LOCAL_ROOT,
      /** STORAGE_BUCKET_PREFIX, already part of every name in `buckets`; names per-deployment MinIO policies. */
      bucketPrefix: p,
      defaultBucket: buckets.userData,
      /** The default size limit; buckets in maxFileSizeByBucket have their own. */
      maxFileSize: env.STORAGE_MAX_FILE_SIZE,
      /** Per-bucket size limits (prefixed names), each with the setting that sets it (for messages). */
      maxFileSizeByBucket: bucketSizeLimits(env, buckets.modelArtifacts),
      allowedExtensions: env.STORAGE_ALLOWED_EXTENSIONS.map((e) => e.toLowerCase().replace(/^\./, "")),
      /** Buckets whose uploads must carry an allowed extension; "*" means every bucket. */
      extensionCheckedBuckets: checked.includes("*") ? ("*" as const) : checked.map((b) => p + b),
      bootstrapOnStart: env.STORAGE_BOOTSTRAP_ON_START,
      presign: {
        defaultExpiry: env.STORAGE_PRESIGN_DEFAULT_EXPIRY,
        maxExpiry: env.STORAGE_PRESIGN_MAX_EXPIRY,
      },
      multipart: {
        partSize: env.STORAGE_MULTIPART_PART_SIZE,
        concurrency: env.STORAGE_MULTIPART_CONCURRENCY,
      },
      /** Resumable upload sessions (core/upload-sessions.ts): lifetime, and seconds between sweeps (0: off). */
      uploadSessions: {
        ttlSeconds: env.UPLOAD_SESSION_TTL,
        sweepIntervalSeconds: env.UPLOAD_SESSION_SWEEP_INTERVAL,
      },
      /** sha256 on a worker thread (true), on the event loop (false), or chosen by core count (undefined). */
      hashThread: { auto: undefined, on: true, off: false }[env.STORAGE_HASH_THREAD],
      /** Admission control (core/admission.ts): beyond either bound an upload is refused with OVERLOADED. */
      admission: {
        maxUploads: env.STORAGE_MAX_CONCURRENT_UPLOADS,
        maxBufferedBytes: env.STORAGE_MAX_BUFFERED_BYTES,
      },
    },
    s3: {
      flavour,
      endpoint: endpointUrl(env.MINIO_ENDPOINT, env.MINIO_SECURE, flavour),
      region: env.MINIO_REGION,
      accessKeyId: env.MINIO_ACCESS_KEY,
      secretAccessKey: env.MINIO_SECRET_KEY,
      maxSockets: env.STORAGE_S3_MAX_SOCKETS,
      consoleEndpoint: env.MINIO_CONSOLE_ENDPOINT,
      /** PEM CA bundle for a MinIO on TLS with a private CA. */
      caFile: env.MINIO_CA_FILE,
    },
    buckets,
    bucketSettings: {
      versioned: [
        ...(env.PROTO_STORAGE_VERSIONING ? [buckets.protoFiles] : []),
        buckets.modelArtifacts,
        buckets.config,
        buckets.backups,
      ],
      encrypted: env.STORAGE_DEFAULT_ENCRYPTION
        ? Object.values(buckets)
        : env.MODEL_STORAGE_ENCRYPTION
          ? [buckets.modelArtifacts]
          : [],
      policies: parsePolicies(env.STORAGE_BUCKET_POLICIES, p),
      tempExpiryDays: env.TEMP_STORAGE_EXPIRY_DAYS,
      noncurrentVersionDays: env.STORAGE_NONCURRENT_VERSION_DAYS,
      logRetentionDays: env.LOG_STORAGE_RETENTION_DAYS,
    },
    proto: {
      /** The rule set a new version is checked with against the latest earlier one (buf breaking). */
      breakingRules: env.PROTO_BREAKING_RULES,
      /** Per-service rule sets that replace breakingRules for those services. */
      breakingRulesByService: parseBreakingOverrides(env.PROTO_BREAKING_RULES_BY_SERVICE),
      /** The most bytes one published set of .proto files may hold, all files together. */
      maxSetBytes: env.PROTO_MAX_SET_BYTES,
      /** The Python with grpcio-tools that generates Python code for published versions. */
      python: env.PROTO_PYTHON,
    },
    model: { compression: env.MODEL_STORAGE_COMPRESSION, encryption: env.MODEL_STORAGE_ENCRYPTION },
    userData: {
      /** Per-user limits of the user-data store (bytes, objects); a user's own limits replace them. */
      quotaBytes: env.USER_DATA_QUOTA_BYTES,
      quotaObjects: env.USER_DATA_QUOTA_OBJECTS,
    },
    temp: {
      /** Time to live of a temp upload that names none, and the longest one accepted (seconds). */
      defaultTtlSeconds: env.TEMP_DEFAULT_TTL,
      maxTtlSeconds: env.TEMP_MAX_TTL,
      /** Seconds between in-process sweeps of expired temp objects; 0: only `temp sweep`. */
      sweepIntervalSeconds: env.TEMP_SWEEP_INTERVAL,
    },
    configStore: {
      /** The largest JSON or YAML document (source text) one put may store. */
      maxDocumentBytes: env.CONFIG_MAX_DOCUMENT_BYTES,
      /** How long an instance reuses a flag it read (seconds): other instances see a change within it. */
      flagCacheTtlSeconds: env.CONFIG_FLAG_CACHE_TTL_SECONDS,
    },
    logs: {
      retentionDays: env.LOG_STORAGE_RETENTION_DAYS,
      compression: env.LOG_STORAGE_COMPRESSION,
      /** Appended lines buffered per hour file are written as one part when this many bytes wait... */
      flushBytes: env.LOG_STORAGE_FLUSH_BYTES,
      /** ...or when the oldest waiting line is this old (seconds). */
      flushIntervalSeconds: env.LOG_STORAGE_FLUSH_INTERVAL,
      /** How often closed hours' parts are compacted into one object (seconds; 0: on demand only). */
      compactIntervalSeconds: env.LOG_STORAGE_COMPACT_INTERVAL,
      /** The service's own log lines (at shipLevel and above) also go to the archive, as service "lumenslate-storage". */
      shipOwn: env.LOG_SHIP_TO_ARCHIVE,
      shipLevel: env.LOG_SHIP_LEVEL,
    },
    /** Thresholds and where alert events go (src/observability/alerts); bucket names with the prefix. */
    alerts: {
      checkIntervalSeconds: env.ALERT_CHECK_INTERVAL,
      ...(env.ALERT_WEBHOOK_URL
        ? {
            webhook: {
              url: env.ALERT_WEBHOOK_URL,
              timeoutSeconds: env.ALERT_WEBHOOK_TIMEOUT,
              retries: env.ALERT_WEBHOOK_RETRIES,
            },
          }
        : {}),
      buckets: {
        maxBytes: parseBucketValues(env.ALERT_BUCKET_MAX_BYTES, p, "ALERT_BUCKET_MAX_BYTES", parseSize),
        maxObjects: parseBucketValues(env.ALERT_BUCKET_MAX_OBJECTS, p, "ALERT_BUCKET_MAX_OBJECTS", (v) =>
          /^[0-9]+$/.test(v) ? Number(v) : undefined,
        ),
        quotaBytes: parseBucketValues(env.ALERT_BUCKET_QUOTA, p, "ALERT_BUCKET_QUOTA", parseSize),
        quotaPercent: env.ALERT_BUCKET_QUOTA_PERCENT,
      },
      ...(env.ALERT_ERROR_RATE === undefined ? {} : { errorRate: env.ALERT_ERROR_RATE }),
      ...(env.ALERT_P99_LATENCY === undefined ? {} : { p99LatencySeconds: env.ALERT_P99_LATENCY }),
      minioDegraded: env.ALERT_MINIO_DEGRADED,
      ...(env.ALERT_MIN_FREE_DISK === undefined ? {} : { minFreeDiskBytes: env.ALERT_MIN_FREE_DISK }),
    },
  };
}

function parseBreakingOverrides(entries: string[]): Record<string, (typeof BREAKING_RULE_SETS)[number]> {
  const out: Record<string, (typeof BREAKING_RULE_SETS)[number]> = {};
  for (const entry of entries) {
    const [service, rules, extra] = entry.split("=").map((s) => s.trim());
    const parsed = breakingRules.safeParse(rules);
    if (!service || extra !== undefined || !parsed.success) {
      throw new ConfigError(
        "PROTO_BREAKING_RULES_BY_SERVICE must be a comma-separated list of service=RULES (RULES: FILE, PACKAGE, WIRE_JSON or WIRE)",
      );
    }
    out[service] = parsed.data;
  }
  return out;
}

/**
 * STORAGE_MAX_FILE_SIZE_BY_BUCKET ("model-artifacts=50GiB,logs=1GiB", names without the prefix) over
 * MODEL_STORAGE_MAX_FILE_SIZE for the model bucket. Each limit keeps the setting that made it, so a
 * TOO_LARGE message can name what to change.
 */
function bucketSizeLimits(
  env: {
    STORAGE_BUCKET_PREFIX: string;
    STORAGE_MAX_FILE_SIZE_BY_BUCKET: string[];
    MODEL_STORAGE_MAX_FILE_SIZE: number;
  },
  modelBucket: string,
): Record<string, SizeLimit> {
  const out: Record<string, SizeLimit> = {
    [modelBucket]: { bytes: env.MODEL_STORAGE_MAX_FILE_SIZE, setting: "MODEL_STORAGE_MAX_FILE_SIZE" },
  };
  for (const entry of env.STORAGE_MAX_FILE_SIZE_BY_BUCKET) {
    const [bucket, text, extra] = entry.split("=").map((s) => s.trim());
    const bytes = text === undefined ? undefined : parseSize(text);
    if (!bucket || extra !== undefined || bytes === undefined || bytes <= 0) {
      throw new ConfigError(
        "Invalid configuration: STORAGE_MAX_FILE_SIZE_BY_BUCKET must be a comma-separated list of bucket=size (bucket names without STORAGE_BUCKET_PREFIX, sizes such as 50GiB or 100MB)",
      );
    }
    out[env.STORAGE_BUCKET_PREFIX + bucket] = { bytes, setting: `STORAGE_MAX_FILE_SIZE_BY_BUCKET ${bucket}` };
  }
  return out;
}

/** `bucket=value,...` (bucket names without the prefix) into a map keyed by the full bucket name. */
function parseBucketValues(
  entries: string[],
  prefix: string,
  variable: string,
  parse: (value: string) => number | undefined,
): Record<string, number> {
  const out: Record<string, number> = {};
  for (const entry of entries) {
    const [bucket, value, extra] = entry.split("=").map((s) => s.trim());
    const parsed = value ? parse(value) : undefined;
    if (!bucket || extra !== undefined || parsed === undefined || parsed <= 0) {
      throw new ConfigError(
        `${variable} must be a comma-separated list of bucket=value (bucket without STORAGE_BUCKET_PREFIX, value positive, sizes such as 10GiB)`,
      );
    }
    out[prefix + bucket] = parsed;
  }
  return out;
}

function parsePolicies(entries: string[], prefix: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const entry of entries) {
    const [bucket, template, extra] = entry.split("=");
    if (!bucket || !template || extra !== undefined || !/^[a-z0-9-]+$/.test(template)) {
      throw new ConfigError(
        "STORAGE_BUCKET_POLICIES must be a comma-separated list of bucket=template (template: a file name in policies/buckets without .json)",
      );
    }
    out[prefix + bucket] = template;
  }
  return out;
}

/** Security rules that span several variables. Messages name variables, never values. */
function checkSecurity(config: Config, env: Record<string, string | undefined>): void {
  const fail = (message: string) => {
    throw new ConfigError(`Invalid configuration: ${message}`);
  };
  if (config.env === "production") {
    const samples = (Object.keys(SAMPLE_CREDENTIALS) as (keyof typeof SAMPLE_CREDENTIALS)[]).filter(
      (name) => env[name] === SAMPLE_CREDENTIALS[name],
    );
    if (samples.length > 0) {
      fail(
        `${samples.join(" and ")} still hold the sample value from .env.example, which is refused when NODE_ENV=production; set real credentials`,
      );
    }
  }
  const { tls } = config;
  if (Boolean(tls.certFile) !== Boolean(tls.keyFile)) {
    fail("TLS_CERT_FILE and TLS_KEY_FILE must be set together (or neither, for plain text)");
  }
  if (tls.clientCaFile && !tls.certFile) fail("TLS_CLIENT_CA_FILE needs TLS_CERT_FILE and TLS_KEY_FILE");
  if (tls.grpcRequireClientCert && !tls.clientCaFile) {
    fail("GRPC_REQUIRE_CLIENT_CERT=true needs TLS_CLIENT_CA_FILE (and TLS_CERT_FILE, TLS_KEY_FILE)");
  }
  if (config.s3.caFile && config.s3.endpoint?.startsWith("http:")) {
    fail("MINIO_CA_FILE is set but the store is reached over plain HTTP: set MINIO_SECURE=true");
  }
  if (config.auth.bootstrapAdminTokenFile && !config.auth.bootstrapAdmin) {
    fail(
      "AUTH_BOOTSTRAP_ADMIN_TOKEN_FILE needs AUTH_BOOTSTRAP_ADMIN=true (it names the first admin key to create)",
    );
  }
  if (Boolean(config.minioAdmin.accessKey) !== Boolean(config.minioAdmin.secretKey)) {
    fail("MINIO_ADMIN_ACCESS_KEY and MINIO_ADMIN_SECRET_KEY must be set together");
  }
}

/** Reads and validates the environment. Throws ConfigError with one line per bad variable. */
export function loadConfig(source: Record<string, string | undefined> = process.env): Config {
  // Empty strings count as unset, as in most .env tooling.
  const env = Object.fromEntries(Object.entries(source).filter(([, v]) => v !== undefined && v !== ""));
  const parsed = envSchema.safeParse(env);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `${i.path.join(".")} ${i.message}`);
    throw new ConfigError(`Invalid configuration: ${lines.join("; ")}`);
  }
  const config = buildConfig(parsed.data);
  if (config.storage.backend !== "local" && config.storage.backend !== "s3") {
    if (!config.s3.accessKeyId || !config.s3.secretAccessKey) {
      throw new ConfigError(
        `Invalid configuration: MINIO_ACCESS_KEY and MINIO_SECRET_KEY are required when STORAGE_BACKEND=${config.storage.backend}`,
      );
    }
  }
  checkSecurity(config, env);
  if (config.storage.presign.defaultExpiry > config.storage.presign.maxExpiry) {
    throw new ConfigError(
      "Invalid configuration: STORAGE_PRESIGN_DEFAULT_EXPIRY must not exceed STORAGE_PRESIGN_MAX_EXPIRY",
    );
  }
  checkTempTtl(config);
  if (config.storage.multipart.partSize < 5 * 1024 * 1024) {
    throw new ConfigError(
      "Invalid configuration: STORAGE_MULTIPART_PART_SIZE must be at least 5MiB (an S3 rule)",
    );
  }
  return config;
}

/** A TTL beyond the temp bucket's lifecycle rule would be cut short by it, silently. */
function checkTempTtl(config: Config): void {
  const { defaultTtlSeconds, maxTtlSeconds } = config.temp;
  if (defaultTtlSeconds > maxTtlSeconds) {
    throw new ConfigError("Invalid configuration: TEMP_DEFAULT_TTL must not exceed TEMP_MAX_TTL");
  }
  if (maxTtlSeconds > config.bucketSettings.tempExpiryDays * 86_400) {
    throw new ConfigError(
      "Invalid configuration: TEMP_MAX_TTL must not exceed TEMP_STORAGE_EXPIRY_DAYS (the temp bucket's lifecycle rule deletes objects then)",
    );
  }
}
