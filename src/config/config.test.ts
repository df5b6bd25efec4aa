import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { CONFIG_VARIABLES, ConfigError, loadConfig } from "./config.ts";
import { Secret } from "./secret.ts";
import { parseDurationSeconds, parseSize } from "./size.ts";

const minio = { STORAGE_BACKEND: "minio", MINIO_ACCESS_KEY: "svc", MINIO_SECRET_KEY: "s3cr3t-value" };

const thrown = (run: () => unknown): unknown => {
  try {
    run();
  } catch (err) {
    return err;
  }
  return undefined;
};

describe("parseSize", () => {
  it.each([
    ["100MB", 100_000_000],
    ["1GiB", 1024 ** 3],
    ["512k", 512 * 1024],
    ["1048576", 1048576],
    ["1.5 MiB", 1.5 * 1024 * 1024],
  ])("%s", (text, bytes) => {
    expect(parseSize(text)).toBe(bytes);
  });
  it.each(["", "MB", "-1MB", "10 parsecs", "1e9"])("refuses %j", (text) => {
    expect(parseSize(text)).toBeUndefined();
  });
  it("reads durations", () => {
    expect(parseDurationSeconds("15m")).toBe(900);
    expect(parseDurationSeconds("7d")).toBe(604800);
    expect(parseDurationSeconds("soon")).toBeUndefined();
  });
});

describe("loadConfig", () => {
  it("defaults to the embedded, zero-setup backends", () => {
    const config = loadConfig({});
    expect(config.storage.backend).toBe("local");
    expect(config.database.url).toBeUndefined();
    expect(config.storage.maxFileSize).toBe(100_000_000);
    expect(config.buckets).toMatchObject({ protoFiles: "proto-files", userData: "user-data", temp: "temp" });
    expect(config.bucketSettings.versioned).toEqual(["proto-files", "model-artifacts", "config", "backups"]);
    expect(config.http.port).toBe(8080);
    expect(config.http.inlineActiveContentBuckets).toEqual([]);
  });

  it("reads every seed variable", () => {
    const config = loadConfig({
      ...minio,
      MINIO_ENDPOINT: "minio:9000",
      MINIO_SECURE: "true",
      STORAGE_MAX_FILE_SIZE: "5GB",
      STORAGE_ALLOWED_EXTENSIONS: "pdf, .TXT",
      PROTO_STORAGE_VERSIONING: "false",
      LOG_STORAGE_RETENTION_DAYS: "14",
      STORAGE_BUCKET_PREFIX: "stg-",
      HTTP_INLINE_ACTIVE_CONTENT_BUCKETS: "site, docs-html",
    });
    expect(config.s3.endpoint).toBe("https://minio:9000");
    expect(config.storage.maxFileSize).toBe(5e9);
    expect(config.storage.allowedExtensions).toEqual(["pdf", "txt"]);
    expect(config.bucketSettings.versioned).not.toContain("stg-proto-files");
    expect(config.buckets.logs).toBe("stg-logs");
    expect(config.storage.extensionCheckedBuckets).toEqual(["stg-user-data"]);
    expect(config.http.inlineActiveContentBuckets).toEqual(["stg-site", "stg-docs-html"]);
    expect(config.logs.retentionDays).toBe(14);
  });

  it.each([
    [{ STORAGE_MAX_FILE_SIZE: "lots" }, /STORAGE_MAX_FILE_SIZE must be a positive size/],
    [{ STORAGE_BACKEND: "ftp" }, /STORAGE_BACKEND must be local, minio, s3 or gcs/],
    [{ HTTP_PORT: "99999" }, /HTTP_PORT must be a whole number from 0 to 65535/],
    [{ MINIO_SECURE: "maybe" }, /MINIO_SECURE must be true or false/],
    [{ LOG_STORAGE_BUCKET: "Bad_Bucket" }, /LOG_STORAGE_BUCKET must be a valid S3 bucket name/],
    [{ DATABASE_URL: "mysql://x" }, /DATABASE_URL must be a postgres/],
    [{ STORAGE_BACKEND: "minio" }, /MINIO_ACCESS_KEY and MINIO_SECRET_KEY are required/],
    [{ STORAGE_MULTIPART_PART_SIZE: "1MB" }, /at least 5MiB/],
    [{ STORAGE_BUCKET_POLICIES: "proto-files" }, /bucket=template/],
    [
      { ...minio, MINIO_SECURE: "true", MINIO_ENDPOINT: "http://minio:9000" },
      /MINIO_SECURE=true contradicts/,
    ],
  ])("refuses %j with a message naming the variable", (env, message) => {
    const error = thrown(() => loadConfig(env));
    expect(error).toBeInstanceOf(ConfigError);
    expect(String(error)).toMatch(message);
  });

  it("never shows secrets, even in an error about them", () => {
    const config = loadConfig({ ...minio, DATABASE_URL: "postgres://u:pw-secret@db/x" });
    expect(config.s3.secretAccessKey).toBeInstanceOf(Secret);
    const printed = `${JSON.stringify(config)} ${String(config.s3.secretAccessKey)}`;
    expect(printed).not.toContain("s3cr3t-value");
    expect(printed).not.toContain("pw-secret");
    expect(config.s3.secretAccessKey?.reveal()).toBe("s3cr3t-value");
    const error = thrown(() => loadConfig({ ...minio, MINIO_SECURE: "s3cr3t-value" }));
    expect(String(error)).toMatch(/MINIO_SECURE must be true or false/);
    expect(String(error)).not.toContain("s3cr3t-value");
  });

  it(".env.example documents every variable, and only those", () => {
    const text = readFileSync(new URL("../../.env.example", import.meta.url), "utf8");
    const documented = [...text.matchAll(/^([A-Z0-9_]+)=/gm)].map((m) => m[1]);
    expect([...documented].sort()).toEqual([...CONFIG_VARIABLES].sort());
    expect(() => loadConfig({})).not.toThrow();
  });
});
