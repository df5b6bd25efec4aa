import { describe, expect, it } from "vitest";
import { loggableTarget } from "./access-log.ts";

describe("loggableTarget", () => {
  it("keeps the path as sent and drops nothing from a query without secrets", () => {
    expect(loggableTarget("/v1/buckets/b/objects/a%20b/c.txt")).toEqual({
      path: "/v1/buckets/b/objects/a%20b/c.txt",
    });
    expect(loggableTarget("/v1/buckets/b/objects?prefix=logs/&limit=10")).toEqual({
      path: "/v1/buckets/b/objects",
      query: "prefix=logs/&limit=10",
    });
  });

  it("redacts presigned signatures, credentials and tokens, keeping their names", () => {
    const target = loggableTarget(
      "/v1/buckets/b/objects/k?X-Amz-Signature=abc123&X-Amz-Credential=AKIA%2F2026&X-Amz-Security-Token=tok&versionId=v1",
    );
    expect(target).toEqual({
      path: "/v1/buckets/b/objects/k",
      query:
        "X-Amz-Signature=[redacted]&X-Amz-Credential=[redacted]&X-Amz-Security-Token=[redacted]&versionId=v1",
    });
  });

  it("keeps only the public id of an API key pasted into the path", () => {
    const { path } = loggableTarget("/v1/buckets/b/objects/lss_abcdefghij012345_s3cretsecretsecretsecret");
    expect(path).not.toContain("s3cretsecret");
    expect(path).toContain("lss_abcdefghij012345_[redacted]");
  });
});
