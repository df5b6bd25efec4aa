import { describe, expect, it } from "vitest";
import { loadConfig } from "../config/config.ts";
import { StorageError } from "../errors.ts";
import { explainListenFailure, explainStoreFailure } from "./startup-errors.ts";

const config = loadConfig({
  STORAGE_BACKEND: "minio",
  MINIO_ENDPOINT: "minio.internal:9000",
  MINIO_ACCESS_KEY: "service",
  MINIO_SECRET_KEY: "service-secret",
});
const wrapped = (cause: unknown) =>
  new StorageError("UNAVAILABLE", "The object store could not be reached.", {}, { cause });

describe("explainStoreFailure", () => {
  it("names MINIO_ENDPOINT and the socket error", () => {
    const socket = Object.assign(new Error("connect ECONNREFUSED 10.0.0.5:9000"), { code: "ECONNREFUSED" });
    const err = explainStoreFailure(wrapped(socket), config) as StorageError;
    expect(err.message).toContain(
      "MINIO_ENDPOINT (http://minio.internal:9000): connect ECONNREFUSED 10.0.0.5:9000",
    );
  });

  it("says when the endpoint answers but is not S3 (no request id), and not when it is", () => {
    const html = Object.assign(new Error("UnknownError"), { $metadata: { httpStatusCode: 404 } });
    const err = explainStoreFailure(
      new StorageError("NOT_FOUND", "No such object.", {}, { cause: html }),
      config,
    );
    expect((err as StorageError).message).toMatch(/answered HTTP 404 but is not an S3 API/);
    const s3 = Object.assign(new Error("NoSuchBucket"), {
      $metadata: { httpStatusCode: 404, requestId: "17A" },
    });
    const real = new StorageError("NOT_FOUND", "No such object.", {}, { cause: s3 });
    expect(explainStoreFailure(real, config)).toBe(real);
  });
});

describe("explainListenFailure", () => {
  const server = { setting: "GRPC_PORT", hostSetting: "GRPC_HOST", host: "0.0.0.0", port: 50051 } as const;

  it("names the port's setting when it is in use", () => {
    const err = new Error("No address added out of total 1 resolved", {
      cause: Object.assign(new Error("bind EADDRINUSE 0.0.0.0:50051"), { code: "EADDRINUSE" }),
    });
    expect((explainListenFailure(err, server) as StorageError).message).toBe(
      "GRPC_PORT=50051 is already in use (another process listens there; stop it or choose another port); GRPC_HOST=0.0.0.0.",
    );
  });

  it("leaves other failures alone", () => {
    const other = new Error("certificate unreadable");
    expect(explainListenFailure(other, server)).toBe(other);
  });
});
