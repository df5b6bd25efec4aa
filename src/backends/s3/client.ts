import { Agent as HttpAgent } from "node:http";
import { Agent as HttpsAgent } from "node:https";
import { S3Client } from "@aws-sdk/client-s3";
import { NodeHttpHandler } from "@smithy/node-http-handler";
import type { Config } from "../../config/config.ts";

/**
 * Builds the S3 client for one flavour of S3. MinIO and GCS want path-style addressing and no
 * flexible checksums (GCS rejects the CRC headers newer SDKs send by default; MinIO accepts them but
 * we already hash every byte ourselves). Keep-alive agents bound the sockets to the backend.
 */
export function createS3Client(s3: Config["s3"]): S3Client {
  const agentOptions = { keepAlive: true, maxSockets: s3.maxSockets, keepAliveMsecs: 10_000 };
  const awsLike = s3.flavour === "s3";
  return new S3Client({
    region: s3.flavour === "gcs" ? "auto" : s3.region,
    endpoint: s3.endpoint,
    forcePathStyle: !awsLike,
    credentials:
      s3.accessKeyId && s3.secretAccessKey
        ? { accessKeyId: s3.accessKeyId.reveal(), secretAccessKey: s3.secretAccessKey.reveal() }
        : undefined,
    requestChecksumCalculation: awsLike ? "WHEN_SUPPORTED" : "WHEN_REQUIRED",
    responseChecksumValidation: awsLike ? "WHEN_SUPPORTED" : "WHEN_REQUIRED",
    maxAttempts: 3,
    requestHandler: new NodeHttpHandler({
      httpAgent: new HttpAgent(agentOptions),
      httpsAgent: new HttpsAgent(agentOptions),
      connectionTimeout: 5_000,
      // Per-socket inactivity; long transfers keep the socket busy so this only trips on a stall.
      requestTimeout: 120_000,
    }),
  });
}
