import { join } from "node:path";
import {
  DeleteBucketCommand,
  DeleteObjectCommand,
  GetBucketEncryptionCommand,
  GetBucketLifecycleConfigurationCommand,
  GetBucketPolicyCommand,
  GetBucketVersioningCommand,
  HeadBucketCommand,
  PutBucketVersioningCommand,
  PutObjectCommand,
} from "@aws-sdk/client-s3";
import { afterAll, describe, expect, it } from "vitest";
import { createS3Client } from "../src/backends/s3/client.ts";
import { S3BucketAdmin } from "../src/backends/s3/s3-bucket-admin.ts";
import { S3Store } from "../src/backends/s3/s3-store.ts";
import { type BootstrapChange, bootstrapBuckets } from "../src/buckets/bootstrap.ts";
import { testConfig } from "./support/config.ts";

// Three buckets get policies so every shipped template round-trips through MinIO's re-spelling.
const config = testConfig({
  STORAGE_BUCKET_POLICIES:
    "grpc-services=public-read,temp=seed-public-read-write,backups=deny-insecure-transport",
});
const client = createS3Client(config.s3);
const store = new S3Store(client, {
  partSize: config.storage.multipart.partSize,
  queueSize: config.storage.multipart.concurrency,
  probeBucket: config.buckets.userData,
});
const admin = new S3BucketAdmin(client, { flavour: config.s3.flavour });
const deps = { store, admin, config, policiesDir: join(import.meta.dirname, "../policies") };
const b = config.buckets;
const all = Object.values(b);

const byAction = (changes: BootstrapChange[], action: BootstrapChange["action"]) =>
  changes
    .filter((c) => c.action === action)
    .map((c) => c.bucket)
    .sort();

const versioning = async (bucket: string) =>
  (await client.send(new GetBucketVersioningCommand({ Bucket: bucket }))).Status;

const lifecycle = async (bucket: string) =>
  (await client.send(new GetBucketLifecycleConfigurationCommand({ Bucket: bucket }))).Rules ?? [];

describe("bucket bootstrap against MinIO", () => {
  afterAll(async () => {
    await client.send(new DeleteObjectCommand({ Bucket: b.grpcServices, Key: "public.txt" })).catch(() => {});
    for (const bucket of all) await client.send(new DeleteBucketCommand({ Bucket: bucket })).catch(() => {});
    await store.close();
  });

  it("creates the eight buckets and applies the configured settings", async () => {
    const changes = await bootstrapBuckets(deps);
    expect(byAction(changes, "created")).toEqual([...all].sort());
    expect(byAction(changes, "versioning")).toEqual([...config.bucketSettings.versioned].sort());
    expect(byAction(changes, "encryption")).toEqual([b.modelArtifacts]);
    expect(byAction(changes, "policy")).toEqual([b.grpcServices, b.temp, b.backups].sort());
    // MinIO keeps no abort-incomplete-upload rules, so buckets needing nothing else get no lifecycle.
    expect(byAction(changes, "lifecycle")).toEqual(
      [b.protoFiles, b.modelArtifacts, b.logs, b.backups, b.temp, b.config].sort(),
    );
    expect(byAction(changes, "skipped")).toEqual([...all].sort());

    for (const bucket of all) await client.send(new HeadBucketCommand({ Bucket: bucket }));
    for (const bucket of config.bucketSettings.versioned) expect(await versioning(bucket)).toBe("Enabled");
    expect(await versioning(b.userData)).toBeUndefined();

    expect(await lifecycle(b.temp)).toEqual([
      expect.objectContaining({ ID: "lumenslate-expire-temp", Status: "Enabled", Expiration: { Days: 1 } }),
    ]);
    expect(await lifecycle(b.logs)).toEqual([
      expect.objectContaining({ ID: "lumenslate-expire-logs-backstop", Expiration: { Days: 37 } }),
    ]);
    expect(await lifecycle(b.backups)).toEqual([
      expect.objectContaining({ NoncurrentVersionExpiration: { NoncurrentDays: 90 } }),
    ]);
    await expect(lifecycle(b.userData)).rejects.toMatchObject({ name: "NoSuchLifecycleConfiguration" });

    const encryption = await client.send(new GetBucketEncryptionCommand({ Bucket: b.modelArtifacts }));
    expect(
      encryption.ServerSideEncryptionConfiguration?.Rules?.[0]?.ApplyServerSideEncryptionByDefault,
    ).toEqual({
      SSEAlgorithm: "AES256",
    });
    await expect(client.send(new GetBucketEncryptionCommand({ Bucket: b.userData }))).rejects.toMatchObject({
      name: "ServerSideEncryptionConfigurationNotFoundError",
    });
  });

  it("applies policy templates: public-read opens only its bucket", async () => {
    const policy = await client.send(new GetBucketPolicyCommand({ Bucket: b.grpcServices }));
    expect(JSON.parse(policy.Policy ?? "{}").Statement[0].Resource).toEqual([
      `arn:aws:s3:::${b.grpcServices}/*`,
    ]);
    await expect(client.send(new GetBucketPolicyCommand({ Bucket: b.userData }))).rejects.toMatchObject({
      name: "NoSuchBucketPolicy",
    });

    await client.send(new PutObjectCommand({ Bucket: b.grpcServices, Key: "public.txt", Body: "hello" }));
    const anonymous = await fetch(`${config.s3.endpoint}/${b.grpcServices}/public.txt`);
    expect(anonymous.status).toBe(200);
    expect(await anonymous.text()).toBe("hello");
    expect((await fetch(`${config.s3.endpoint}/${b.userData}/public.txt`)).status).toBe(403);
  });

  it("changes nothing on a second run", async () => {
    expect(await bootstrapBuckets(deps)).toEqual([]);
  });

  it("detects and repairs drift", async () => {
    await client.send(
      new PutBucketVersioningCommand({ Bucket: b.backups, VersioningConfiguration: { Status: "Suspended" } }),
    );
    expect(await versioning(b.backups)).toBe("Suspended");

    expect(await bootstrapBuckets(deps)).toEqual([
      { bucket: b.backups, action: "versioning", detail: "enabled (was suspended)" },
    ]);
    expect(await versioning(b.backups)).toBe("Enabled");
    expect(await bootstrapBuckets(deps)).toEqual([]);
  });
});
