import { describe, expect, it } from "vitest";
import { loadConfig } from "../config/config.ts";
import { formatLimit, sizeLimitFor, tooLarge } from "./size-limits.ts";

describe("per-bucket size limits", () => {
  it("gives the model bucket 50 GiB by default and every other bucket STORAGE_MAX_FILE_SIZE", () => {
    const { storage, buckets } = loadConfig({});
    expect(sizeLimitFor(storage, buckets.modelArtifacts)).toEqual({
      bytes: 50 * 1024 ** 3,
      setting: "MODEL_STORAGE_MAX_FILE_SIZE",
    });
    expect(sizeLimitFor(storage, buckets.logs)).toEqual({ bytes: 100e6, setting: "STORAGE_MAX_FILE_SIZE" });
  });

  it("takes STORAGE_MAX_FILE_SIZE_BY_BUCKET (names without the prefix) over the model default", () => {
    const { storage } = loadConfig({
      STORAGE_BUCKET_PREFIX: "dev-",
      STORAGE_MAX_FILE_SIZE_BY_BUCKET: "model-artifacts=2GiB, logs=1MB",
      MODEL_STORAGE_MAX_FILE_SIZE: "10GiB",
    });
    expect(sizeLimitFor(storage, "dev-model-artifacts").bytes).toBe(2 * 1024 ** 3);
    expect(sizeLimitFor(storage, "dev-logs")).toEqual({
      bytes: 1e6,
      setting: "STORAGE_MAX_FILE_SIZE_BY_BUCKET logs",
    });
  });

  it("refuses a malformed STORAGE_MAX_FILE_SIZE_BY_BUCKET naming the variable", () => {
    for (const bad of ["logs", "logs=big", "=1GiB", "logs=1GiB=2", "logs=0"]) {
      expect(() => loadConfig({ STORAGE_MAX_FILE_SIZE_BY_BUCKET: bad })).toThrow(
        /STORAGE_MAX_FILE_SIZE_BY_BUCKET/,
      );
    }
    expect(() => loadConfig({ MODEL_STORAGE_MAX_FILE_SIZE: "huge" })).toThrow(/MODEL_STORAGE_MAX_FILE_SIZE/);
  });

  it("prints limits in the units an operator writes them", () => {
    expect(formatLimit(50 * 1024 ** 3)).toBe("50 GiB");
    expect(formatLimit(100e6)).toBe("100 MB");
    expect(formatLimit(1536 * 1024 ** 2)).toBe("1536 MiB");
    expect(formatLimit(1536 * 1024 ** 2 + 1)).toBe("1.5 GiB");
    expect(formatLimit(1000 * 1024 ** 2 + 1)).toBe("1000.0 MiB");
    expect(formatLimit(12)).toBe("12 bytes");
  });

  it("names the setting and the limit in TOO_LARGE, with the limit in bytes in details", () => {
    const err = tooLarge(
      { bytes: 50 * 1024 ** 3, setting: "STORAGE_MAX_FILE_SIZE_BY_BUCKET model-artifacts" },
      "model-artifacts",
    );
    expect(err.code).toBe("TOO_LARGE");
    expect(err.message).toContain("STORAGE_MAX_FILE_SIZE_BY_BUCKET model-artifacts=50GiB");
    expect(err.message).toContain("50 GiB");
    expect(err.details).toMatchObject({ limit: 50 * 1024 ** 3, bucket: "model-artifacts" });
  });
});
