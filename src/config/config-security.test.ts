import { describe, expect, it } from "vitest";
import { ConfigError, loadConfig } from "./config.ts";

/** The security variables of issue 5: defaults, cross-checks, and refusals in production. */

const thrown = (run: () => unknown): unknown => {
  try {
    run();
  } catch (err) {
    return err;
  }
  return undefined;
};

const sample = {
  STORAGE_BACKEND: "minio",
  MINIO_ACCESS_KEY: "lumenslate_minio",
  MINIO_SECRET_KEY: "lumenslate_minio_secret",
};

describe("security configuration", () => {
  it("defaults to authentication on, a first admin key, hourly export", () => {
    const config = loadConfig({});
    expect(config.auth).toEqual({
      disabled: false,
      bootstrapAdmin: true,
      bootstrapKeyFile: "./data/admin-key",
      keyCacheTtlSeconds: 30,
      keyIdFailures: { points: 20, windowSeconds: 60 },
      addressFailures: { points: 20, windowSeconds: 60 },
      bootstrapAdminTokenFile: undefined,
    });
    expect(config.sts.maxDurationSeconds).toBe(3600);
    expect(config.tls).toEqual({
      certFile: undefined,
      keyFile: undefined,
      clientCaFile: undefined,
      grpcRequireClientCert: false,
    });
    expect(config.audit.exportIntervalSeconds).toBe(3600);
    expect(config.audit.webhookToken).toBeUndefined();
    expect(config.minioAdmin.mcBinary).toBe("mc");
  });

  it("reads the variables", () => {
    const config = loadConfig({
      AUTH_DISABLED: "true",
      STS_MAX_DURATION: "15m",
      TLS_CERT_FILE: "/c.pem",
      TLS_KEY_FILE: "/k.pem",
      TLS_CLIENT_CA_FILE: "/ca.pem",
      GRPC_REQUIRE_CLIENT_CERT: "true",
      MINIO_AUDIT_WEBHOOK_TOKEN: "0123456789abcdef",
      AUDIT_EXPORT_INTERVAL: "off",
      STORAGE_BACKEND: "minio",
      MINIO_ACCESS_KEY: "a",
      MINIO_SECRET_KEY: "b",
      MINIO_SECURE: "true",
      MINIO_CA_FILE: "/minio-ca.pem",
      AUTH_KEY_FAILURE_LIMIT: "5",
      AUTH_KEY_FAILURE_WINDOW: "15m",
    });
    expect(config.auth.disabled).toBe(true);
    expect(config.auth.keyIdFailures).toEqual({ points: 5, windowSeconds: 900 });
    expect(config.sts.maxDurationSeconds).toBe(900);
    expect(config.tls.grpcRequireClientCert).toBe(true);
    expect(config.audit.webhookToken?.reveal()).toBe("0123456789abcdef");
    expect(JSON.stringify(config)).not.toContain("0123456789abcdef");
    expect(config.audit.exportIntervalSeconds).toBe(0);
    expect(config.s3.caFile).toBe("/minio-ca.pem");
  });

  it("refuses a key-id failure budget of zero or a window of no time, naming the variable", () => {
    expect(String(thrown(() => loadConfig({ AUTH_KEY_FAILURE_LIMIT: "0" })))).toMatch(
      /AUTH_KEY_FAILURE_LIMIT/,
    );
    expect(String(thrown(() => loadConfig({ AUTH_KEY_FAILURE_WINDOW: "0s" })))).toMatch(
      /AUTH_KEY_FAILURE_WINDOW/,
    );
  });

  it("accepts the sample credentials outside production", () => {
    expect(() => loadConfig(sample)).not.toThrow();
    expect(() => loadConfig({ ...sample, NODE_ENV: "test" })).not.toThrow();
  });

  it.each([
    [
      { ...sample, NODE_ENV: "production" },
      /MINIO_ACCESS_KEY and MINIO_SECRET_KEY still hold the sample value/,
    ],
    [
      { ...sample, NODE_ENV: "production", MINIO_ACCESS_KEY: "real-user" },
      /MINIO_SECRET_KEY still hold the sample value from .env.example/,
    ],
    [{ STS_MAX_DURATION: "10m" }, /STS_MAX_DURATION must be a duration from 15m to 12h/],
    [{ STS_MAX_DURATION: "13h" }, /STS_MAX_DURATION must be a duration from 15m to 12h/],
    [{ TLS_CERT_FILE: "/c.pem" }, /TLS_CERT_FILE and TLS_KEY_FILE must be set together/],
    [{ TLS_CLIENT_CA_FILE: "/ca.pem" }, /TLS_CLIENT_CA_FILE needs TLS_CERT_FILE/],
    [
      { TLS_CERT_FILE: "/c", TLS_KEY_FILE: "/k", GRPC_REQUIRE_CLIENT_CERT: "true" },
      /GRPC_REQUIRE_CLIENT_CERT=true needs TLS_CLIENT_CA_FILE/,
    ],
    [{ MINIO_AUDIT_WEBHOOK_TOKEN: "short" }, /MINIO_AUDIT_WEBHOOK_TOKEN must be at least 16 characters/],
    [{ AUDIT_EXPORT_INTERVAL: "10s" }, /AUDIT_EXPORT_INTERVAL must be off or a duration of at least 60s/],
    [{ AUTH_DISABLED: "perhaps" }, /AUTH_DISABLED must be true or false/],
    [{ MINIO_CA_FILE: "/ca.pem" }, /MINIO_CA_FILE is set but the store is reached over plain HTTP/],
    [
      { MINIO_ADMIN_ACCESS_KEY: "root" },
      /MINIO_ADMIN_ACCESS_KEY and MINIO_ADMIN_SECRET_KEY must be set together/,
    ],
  ])("refuses %j", (env, message) => {
    const error = thrown(() => loadConfig(env));
    expect(error).toBeInstanceOf(ConfigError);
    expect(String(error)).toMatch(message);
    // The message names variables, never the values.
    expect(String(error)).not.toContain("lumenslate_minio_secret");
  });
});
