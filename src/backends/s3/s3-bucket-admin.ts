import {
  DeleteBucketLifecycleCommand,
  DeleteBucketPolicyCommand,
  GetBucketEncryptionCommand,
  GetBucketLifecycleConfigurationCommand,
  GetBucketPolicyCommand,
  GetBucketVersioningCommand,
  PutBucketEncryptionCommand,
  PutBucketLifecycleConfigurationCommand,
  PutBucketPolicyCommand,
  PutBucketVersioningCommand,
  type S3Client,
  type LifecycleRule as S3LifecycleRule,
} from "@aws-sdk/client-s3";
import type { S3Flavour } from "../../config/config.ts";
import { StorageError } from "../../errors.ts";
import type {
  BucketAdmin,
  BucketAdminCapabilities,
  BucketPolicy,
  EncryptionAlgorithm,
  LifecycleRule,
  VersioningState,
} from "../bucket-admin.ts";
import { fromS3Error } from "./errors.ts";

/**
 * BucketAdmin over the plain S3 API (no vendor admin APIs), so it works on MinIO and AWS S3 alike.
 * GCS's XML API lacks some of these calls; its NotImplemented answers become UNSUPPORTED_OPERATION
 * so callers can skip the setting instead of failing.
 */
export class S3BucketAdmin implements BucketAdmin {
  readonly capabilities: BucketAdminCapabilities;
  readonly #client: S3Client;

  constructor(client: S3Client, options: { flavour: S3Flavour }) {
    this.#client = client;
    // MinIO answers InvalidArgument to an abort-only rule and silently drops the action otherwise.
    this.capabilities = { abortIncompleteUploads: options.flavour !== "minio" };
  }

  async getVersioning(bucket: string): Promise<VersioningState> {
    const out = await this.#call(bucket, "versioning", () =>
      this.#client.send(new GetBucketVersioningCommand({ Bucket: bucket })),
    );
    return out.Status === "Enabled" ? "enabled" : out.Status === "Suspended" ? "suspended" : "off";
  }

  async setVersioning(bucket: string, enabled: boolean): Promise<void> {
    const Status = enabled ? "Enabled" : "Suspended";
    await this.#call(bucket, "versioning", () =>
      this.#client.send(
        new PutBucketVersioningCommand({ Bucket: bucket, VersioningConfiguration: { Status } }),
      ),
    );
  }

  async getLifecycle(bucket: string): Promise<LifecycleRule[]> {
    const out = await this.#call(bucket, "lifecycle", async () => {
      try {
        return await this.#client.send(new GetBucketLifecycleConfigurationCommand({ Bucket: bucket }));
      } catch (err) {
        if (errorName(err) === "NoSuchLifecycleConfiguration") return { Rules: [] };
        throw err;
      }
    });
    return (out.Rules ?? []).filter((r) => r.Status === "Enabled").map(fromS3Rule);
  }

  async setLifecycle(bucket: string, rules: LifecycleRule[]): Promise<void> {
    await this.#call(bucket, "lifecycle", () =>
      rules.length === 0
        ? this.#client.send(new DeleteBucketLifecycleCommand({ Bucket: bucket }))
        : this.#client.send(
            new PutBucketLifecycleConfigurationCommand({
              Bucket: bucket,
              LifecycleConfiguration: { Rules: rules.map(toS3Rule) },
            }),
          ),
    );
  }

  async getEncryption(bucket: string): Promise<EncryptionAlgorithm | undefined> {
    const out = await this.#call(bucket, "encryption", async () => {
      try {
        return await this.#client.send(new GetBucketEncryptionCommand({ Bucket: bucket }));
      } catch (err) {
        if (errorName(err) === "ServerSideEncryptionConfigurationNotFoundError") return undefined;
        throw err;
      }
    });
    const algorithm =
      out?.ServerSideEncryptionConfiguration?.Rules?.[0]?.ApplyServerSideEncryptionByDefault?.SSEAlgorithm;
    if (algorithm === "AES256") return "AES256";
    // "aws:kms" and "aws:kms:dsse" are both KMS-managed keys.
    return algorithm?.startsWith("aws:kms") ? "aws:kms" : undefined;
  }

  async setEncryption(bucket: string, algorithm: "AES256"): Promise<void> {
    await this.#call(bucket, "encryption", () =>
      this.#client.send(
        new PutBucketEncryptionCommand({
          Bucket: bucket,
          ServerSideEncryptionConfiguration: {
            Rules: [{ ApplyServerSideEncryptionByDefault: { SSEAlgorithm: algorithm } }],
          },
        }),
      ),
    );
  }

  async getPolicy(bucket: string): Promise<BucketPolicy | undefined> {
    const out = await this.#call(bucket, "policy", async () => {
      try {
        return await this.#client.send(new GetBucketPolicyCommand({ Bucket: bucket }));
      } catch (err) {
        if (errorName(err) === "NoSuchBucketPolicy") return undefined;
        throw err;
      }
    });
    if (!out?.Policy) return undefined;
    try {
      return JSON.parse(out.Policy) as BucketPolicy;
    } catch (err) {
      throw new StorageError(
        "INTERNAL",
        "The object store returned a bucket policy that is not JSON.",
        { bucket },
        { cause: err },
      );
    }
  }

  async setPolicy(bucket: string, policy: BucketPolicy): Promise<void> {
    await this.#call(bucket, "policy", () =>
      this.#client.send(new PutBucketPolicyCommand({ Bucket: bucket, Policy: JSON.stringify(policy) })),
    );
  }

  async deletePolicy(bucket: string): Promise<void> {
    await this.#call(bucket, "policy", () =>
      this.#client.send(new DeleteBucketPolicyCommand({ Bucket: bucket })),
    );
  }

  async #call<T>(bucket: string, setting: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      if (errorName(err) === "NotImplemented" || httpStatus(err) === 501) {
        throw new StorageError(
          "UNSUPPORTED_OPERATION",
          `The object store does not support bucket ${setting} settings.`,
          { bucket, setting },
          { cause: err },
        );
      }
      throw fromS3Error(err, { bucket });
    }
  }
}

function errorName(err: unknown): string | undefined {
  const e = err as { name?: string; Code?: string } | undefined;
  return e?.Code ?? e?.name;
}

function httpStatus(err: unknown): number | undefined {
  return (err as { $metadata?: { httpStatusCode?: number } } | undefined)?.$metadata?.httpStatusCode;
}

function fromS3Rule(rule: S3LifecycleRule): LifecycleRule {
  const out: LifecycleRule = {
    id: rule.ID ?? "",
    prefix: rule.Filter?.Prefix ?? rule.Filter?.And?.Prefix ?? rule.Prefix ?? "",
  };
  if (rule.Expiration?.Days !== undefined) out.expirationDays = rule.Expiration.Days;
  if (rule.NoncurrentVersionExpiration?.NoncurrentDays !== undefined)
    out.noncurrentDays = rule.NoncurrentVersionExpiration.NoncurrentDays;
  if (rule.AbortIncompleteMultipartUpload?.DaysAfterInitiation !== undefined)
    out.abortIncompleteDays = rule.AbortIncompleteMultipartUpload.DaysAfterInitiation;
  return out;
}

function toS3Rule(rule: LifecycleRule): S3LifecycleRule {
  return {
    ID: rule.id,
    Status: "Enabled",
    Filter: { Prefix: rule.prefix },
    ...(rule.expirationDays !== undefined && { Expiration: { Days: rule.expirationDays } }),
    ...(rule.noncurrentDays !== undefined && {
      NoncurrentVersionExpiration: { NoncurrentDays: rule.noncurrentDays },
    }),
    ...(rule.abortIncompleteDays !== undefined && {
      AbortIncompleteMultipartUpload: { DaysAfterInitiation: rule.abortIncompleteDays },
    }),
  };
}
