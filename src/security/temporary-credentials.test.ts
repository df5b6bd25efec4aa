import { describe, expect, it } from "vitest";
import { loadConfig } from "../config/config.ts";
import { StorageError } from "../errors.ts";
import { type Principal, parseScope } from "./scopes.ts";
import { sessionPolicy, TemporaryCredentialIssuer } from "./temporary-credentials.ts";

const principal = (...scopes: string[]): Principal => ({
  keyId: "k".repeat(16),
  service: "test",
  scopes: scopes.map(parseScope),
});

const minio = loadConfig({
  STORAGE_BACKEND: "minio",
  MINIO_ENDPOINT: "127.0.0.1:1", // nothing listens: every test here must fail before calling it
  MINIO_ACCESS_KEY: "svc",
  MINIO_SECRET_KEY: "svc-secret",
  STS_MAX_DURATION: "2h",
});

async function codeOf(run: () => Promise<unknown>): Promise<string | undefined> {
  try {
    await run();
  } catch (err) {
    if (err instanceof StorageError) return err.code;
    throw err;
  }
  return undefined;
}

describe("sessionPolicy", () => {
  it("allows only the key's object actions under the prefix, and listing only of the prefix", () => {
    const policy = JSON.parse(sessionPolicy("user-data", "users/alice/", ["read", "write", "list"]));
    expect(policy).toEqual({
      Version: "2012-10-17",
      Statement: [
        {
          Effect: "Allow",
          Action: ["s3:GetObject", "s3:PutObject", "s3:AbortMultipartUpload", "s3:ListMultipartUploadParts"],
          Resource: ["arn:aws:s3:::user-data/users/alice/*"],
        },
        {
          Effect: "Allow",
          Action: ["s3:ListBucket"],
          Resource: ["arn:aws:s3:::user-data"],
          Condition: { StringLike: { "s3:prefix": ["users/alice/*"] } },
        },
      ],
    });
  });

  it("never grants bucket settings or deletes the key does not have", () => {
    const text = sessionPolicy("temp", "", ["read"]);
    expect(text).not.toMatch(/Delete|Bucket(Policy|Versioning)|Lifecycle|s3:\*/);
    expect(JSON.parse(text).Statement[0].Resource).toEqual(["arn:aws:s3:::temp/*"]);
  });
});

describe("TemporaryCredentialIssuer checks before calling MinIO", () => {
  const issuer = new TemporaryCredentialIssuer(minio);
  const p = principal("user-data/users/{user_id}/:read,write,presign", "temp:read");

  it("needs presign on the target", async () => {
    expect(await codeOf(() => issuer.issue(p, { bucket: "temp", prefix: "x/" }))).toBe("PERMISSION_DENIED");
    expect(
      await codeOf(() =>
        issuer.issue(p, { bucket: "user-data", prefix: "users/bob/", bindings: { user_id: "alice" } }),
      ),
    ).toBe("PERMISSION_DENIED");
    expect(await codeOf(() => issuer.issue(p, { bucket: "user-data", prefix: "" }))).toBe(
      "PERMISSION_DENIED",
    );
  });

  it("refuses wildcards and out-of-range durations", async () => {
    const ok = { bucket: "user-data", bindings: { user_id: "alice" } };
    expect(await codeOf(() => issuer.issue(p, { ...ok, prefix: "users/alice/*" }))).toBe("INVALID_ARGUMENT");
    expect(await codeOf(() => issuer.issue(p, { ...ok, prefix: "users/alice/", durationSeconds: 899 }))).toBe(
      "INVALID_ARGUMENT",
    );
    expect(
      await codeOf(() => issuer.issue(p, { ...ok, prefix: "users/alice/", durationSeconds: 7201 })),
    ).toBe("INVALID_ARGUMENT");
  });

  it("is MinIO-only", async () => {
    const local = new TemporaryCredentialIssuer(loadConfig({}));
    expect(
      await codeOf(() => local.issue(principal("temp:read,presign"), { bucket: "temp", prefix: "a/" })),
    ).toBe("UNSUPPORTED_OPERATION");
  });
});
