import { describe, expect, it } from "vitest";
import { Secret } from "../config/secret.ts";
import { StorageError } from "../errors.ts";
import { parseMinioAuditPayload, resultFromStatus, webhookTokenMatches } from "./minio-audit.ts";

// The shape MinIO's audit webhook sends (recorded from a real server, values shortened).
const entry = (over: Record<string, unknown> = {}, api: Record<string, unknown> = {}) => ({
  version: "1",
  deploymentid: "d09f8100-b762-4227-9bb8-b3e9c3b5bbcb",
  time: "2026-11-28T04:34:49.909312168Z",
  event: "",
  trigger: "incoming",
  api: {
    name: "PutObject",
    bucket: "abc",
    object: "k1.txt",
    status: "OK",
    statusCode: 200,
    rx: 175,
    tx: 0,
    timeToResponse: "2019637ns",
    timeToResponseInNS: "2019637",
    ...api,
  },
  remotehost: "127.0.0.1",
  requestID: "18EC1B692A30EE1D",
  userAgent: "MinIO (linux; amd64) minio-go/v7.0.88 mc/DEVELOPMENT.GOGET",
  requestPath: "/abc/k1.txt",
  requestHeader: {
    Authorization:
      "AWS4-HMAC-SHA256 Credential=rootuser/20261128/us-east-1/s3/aws4_request, Signature=023d49f9",
    "Content-Length": "175",
  },
  responseHeader: { ETag: "764efa88", "X-Amz-Request-Id": "18EC1B692A30EE1D" },
  accessKey: "rootuser",
  ...over,
});

describe("parseMinioAuditPayload", () => {
  it("maps one entry to one audit event, without request headers", () => {
    const [event, ...rest] = parseMinioAuditPayload(JSON.stringify(entry()));
    expect(rest).toEqual([]);
    expect(event).toEqual({
      source: "minio",
      keyId: "rootuser",
      service: null,
      protocol: "s3",
      action: "s3:PutObject",
      bucket: "abc",
      key: "k1.txt",
      versionId: null,
      result: "OK",
      bytes: 175,
      requestId: "18EC1B692A30EE1D",
      clientAddress: "127.0.0.1",
      details: {
        time: "2026-11-28T04:34:49.909312168Z",
        statusCode: 200,
        status: "OK",
        rx: 175,
        tx: 0,
        timeToResponseNs: 2019637,
        userAgent: "MinIO (linux; amd64) minio-go/v7.0.88 mc/DEVELOPMENT.GOGET",
        deploymentId: "d09f8100-b762-4227-9bb8-b3e9c3b5bbcb",
        trigger: "incoming",
      },
    });
    expect(JSON.stringify(event)).not.toContain("Signature");
  });

  it("reads versions, read sizes and refusals", () => {
    const [get] = parseMinioAuditPayload(
      entry(
        { responseHeader: { "X-Amz-Version-Id": "v-123" } },
        { name: "GetObject", rx: 300, tx: 4096, statusCode: 200 },
      ),
    );
    expect(get).toMatchObject({ action: "s3:GetObject", versionId: "v-123", bytes: 4096, result: "OK" });
    const [denied] = parseMinioAuditPayload(
      entry({ requestQuery: { versionId: "v-9" } }, { statusCode: 403 }),
    );
    expect(denied).toMatchObject({ result: "PERMISSION_DENIED", versionId: "v-9" });
  });

  it("accepts arrays and one entry per line, and skips entries without an API", () => {
    const one = JSON.stringify(entry());
    expect(parseMinioAuditPayload(`[${one},${one}]`)).toHaveLength(2);
    expect(parseMinioAuditPayload(`${one}\n${one}\n\n${one}\n`)).toHaveLength(3);
    expect(parseMinioAuditPayload(Buffer.from(one))).toHaveLength(1);
    expect(parseMinioAuditPayload([entry(), { version: "1" }, null, 7])).toHaveLength(1);
    expect(parseMinioAuditPayload("")).toEqual([]);
  });

  it("refuses what is not JSON", () => {
    expect(() => parseMinioAuditPayload("not json")).toThrow(StorageError);
  });

  it("maps statuses to the service's codes", () => {
    expect(resultFromStatus(204)).toBe("OK");
    expect(resultFromStatus(304)).toBe("OK");
    expect(resultFromStatus(404)).toBe("NOT_FOUND");
    expect(resultFromStatus(418)).toBe("INVALID_ARGUMENT");
    expect(resultFromStatus(503)).toBe("UNAVAILABLE");
    expect(resultFromStatus(500)).toBe("INTERNAL");
  });
});

describe("webhookTokenMatches", () => {
  const token = new Secret("a-webhook-token-of-some-length");
  it("accepts the token as is or as a bearer credential", () => {
    expect(webhookTokenMatches("a-webhook-token-of-some-length", token)).toBe(true);
    expect(webhookTokenMatches("Bearer a-webhook-token-of-some-length", token)).toBe(true);
    expect(webhookTokenMatches("a-webhook-token-of-some-lengtH", token)).toBe(false);
    expect(webhookTokenMatches("", token)).toBe(false);
    expect(webhookTokenMatches(undefined, token)).toBe(false);
  });
});
