import { PutObjectCommand } from "@aws-sdk/client-s3";
import { describe, expect, it } from "vitest";
import type { Config } from "../../config/config.ts";
import { Secret } from "../../config/secret.ts";
import { createS3Client, S3_USER_AGENT } from "./client.ts";

const settings = (flavour: Config["s3"]["flavour"]) =>
  ({
    flavour,
    endpoint: "http://127.0.0.1:9",
    region: "us-east-1",
    accessKeyId: new Secret("access"),
    secretAccessKey: new Secret("secret-key"),
    maxSockets: 4,
  }) as Config["s3"];

/** The headers of the request as it would go on the wire (signed), without sending it. */
async function sentHeaders(flavour: Config["s3"]["flavour"]): Promise<Record<string, string>> {
  const client = createS3Client(settings(flavour));
  let headers: Record<string, string> = {};
  client.middlewareStack.add(
    () => async (args) => {
      headers = { ...(args.request as { headers: Record<string, string> }).headers };
      throw new Error("not sent");
    },
    { step: "finalizeRequest", priority: "low", name: "capture" },
  );
  await expect(
    client.send(new PutObjectCommand({ Bucket: "b", Key: "k", Body: Buffer.from("hello") })),
  ).rejects.toThrow("not sent");
  client.destroy();
  return headers;
}

describe("createS3Client", () => {
  it("sends a constant User-Agent in place of the SDK's per-request one", async () => {
    const headers = await sentHeaders("minio");
    expect(headers["user-agent"]).toBe(S3_USER_AGENT);
    expect(headers["x-amz-user-agent"]).toBeUndefined();
    // Still signed, still unsigned-payload: the replacement did not displace the neighbours.
    expect(headers.authorization).toMatch(/^AWS4-HMAC-SHA256 /);
    expect(headers["x-amz-content-sha256"]).toBe("UNSIGNED-PAYLOAD");
  });

  it("adds no checksum of its own towards MinIO (the core hashes every byte)", async () => {
    const headers = await sentHeaders("minio");
    expect(Object.keys(headers).filter((h) => h.startsWith("x-amz-checksum-"))).toEqual([]);
    expect(headers["x-amz-sdk-checksum-algorithm"]).toBeUndefined();
  });

  it("keeps the SDK's default checksums towards AWS", async () => {
    const headers = await sentHeaders("s3");
    expect(Object.keys(headers).some((h) => h.startsWith("x-amz-checksum-"))).toBe(true);
  });
});
