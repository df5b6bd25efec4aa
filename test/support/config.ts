import { randomInt } from "node:crypto";
import { inject } from "vitest";
import { type Config, loadConfig } from "../../src/config/config.ts";

const ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789";

/** `t` + 6 random lowercase letters/digits + `-`: a bucket prefix no other suite will pick. */
export function randomBucketPrefix(): string {
  let prefix = "t";
  for (let i = 0; i < 6; i++) prefix += ALPHABET.charAt(randomInt(ALPHABET.length));
  return `${prefix}-`;
}

// One prefix per test file (vitest loads this module afresh for each file), so every testEnv()
// call in a suite sees the same buckets while suites sharing the MinIO never collide.
const suitePrefix = randomBucketPrefix();

/**
 * Environment for an integration test: the shared MinIO from globalSetup, quiet logs, this
 * suite's bucket prefix, and PostgreSQL from DATABASE_URL when CI provides one, else an in-memory
 * PGlite. `overrides` win; an empty string unsets a variable (loadConfig ignores empty values).
 */
export function testEnv(overrides: Record<string, string> = {}): Record<string, string> {
  const minio = inject("minio");
  if (!minio) {
    throw new Error("testEnv() needs the shared MinIO: run it in the vitest `integration` project");
  }
  const env: Record<string, string> = {
    NODE_ENV: "test",
    LOG_LEVEL: "silent",
    STORAGE_BACKEND: "minio",
    MINIO_ENDPOINT: minio.endpoint,
    MINIO_ACCESS_KEY: minio.accessKey,
    MINIO_SECRET_KEY: minio.secretKey,
    STORAGE_BUCKET_PREFIX: suitePrefix,
    STORAGE_MAX_FILE_SIZE: "2GiB",
  };
  const databaseUrl = process.env.DATABASE_URL;
  if (databaseUrl) env.DATABASE_URL = databaseUrl;
  else env.PGLITE_DATA_DIR = "memory://";
  return { ...env, ...overrides };
}

/** testEnv() run through the real loadConfig. */
export function testConfig(overrides: Record<string, string> = {}): Config {
  return loadConfig(testEnv(overrides));
}
