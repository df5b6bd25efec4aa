import { mkdir, mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import type {
  BucketAdmin,
  BucketPolicy,
  EncryptionAlgorithm,
  LifecycleRule,
  VersioningState,
} from "../backends/bucket-admin.ts";
import type { ObjectStore } from "../backends/object-store.ts";
import { S3BucketAdmin } from "../backends/s3/s3-bucket-admin.ts";
import { loadConfig } from "../config/config.ts";
import { StorageError } from "../errors.ts";
import { type BootstrapChange, bootstrapBuckets, desiredBuckets } from "./bootstrap.ts";
import { canonicalPolicy, normaliseLifecycle, sameLifecycle, samePolicy } from "./normalise.ts";

const policiesDir = join(import.meta.dirname, "../../policies");

interface BucketState {
  versioning: VersioningState;
  lifecycle: LifecycleRule[];
  encryption?: EncryptionAlgorithm;
  policy?: BucketPolicy;
}

/** Keeps settings the way MinIO hands them back: policies re-spelled, abort rules honoured or not. */
class FakeAdmin implements BucketAdmin {
  readonly state = new Map<string, BucketState>();
  writes = 0;
  unsupported = new Set<string>();
  readonly capabilities: { abortIncompleteUploads: boolean };
  constructor(capabilities = { abortIncompleteUploads: true }) {
    this.capabilities = capabilities;
  }
  #get(bucket: string, setting: string): BucketState {
    if (this.unsupported.has(setting)) throw new StorageError("UNSUPPORTED_OPERATION", "no", { bucket });
    const s = this.state.get(bucket) ?? { versioning: "off", lifecycle: [] };
    this.state.set(bucket, s);
    return s;
  }
  #set(bucket: string, setting: string): BucketState {
    this.writes++;
    return this.#get(bucket, setting);
  }
  async getVersioning(b: string) {
    return this.#get(b, "versioning").versioning;
  }
  async setVersioning(b: string, enabled: boolean) {
    this.#set(b, "versioning").versioning = enabled ? "enabled" : "suspended";
  }
  async getLifecycle(b: string) {
    return structuredClone(this.#get(b, "lifecycle").lifecycle);
  }
  async setLifecycle(b: string, rules: LifecycleRule[]) {
    // Stored in reverse to prove order does not matter.
    this.#set(b, "lifecycle").lifecycle = structuredClone(rules).reverse();
  }
  async getEncryption(b: string) {
    return this.#get(b, "encryption").encryption;
  }
  async setEncryption(b: string, algorithm: "AES256") {
    this.#set(b, "encryption").encryption = algorithm;
  }
  async getPolicy(b: string) {
    return this.#get(b, "policy").policy;
  }
  async setPolicy(b: string, policy: BucketPolicy) {
    // MinIO's spelling: every string a list, "*" principals as {"AWS": ["*"]}.
    const respell = JSON.stringify(policy).replaceAll('"Principal":"*"', '"Principal":{"AWS":["*"]}');
    this.#set(b, "policy").policy = JSON.parse(respell.replaceAll(/"Action":"([^"]*)"/g, '"Action":["$1"]'));
  }
  async deletePolicy(b: string) {
    delete this.#set(b, "policy").policy;
  }
}

function fakeStore(existing: string[] = []) {
  const buckets = new Set(existing);
  const store = {
    buckets,
    async bucketExists(b: string) {
      return buckets.has(b);
    },
    async createBucket(b: string) {
      buckets.add(b);
    },
  };
  return store as typeof store & ObjectStore;
}

const count = (changes: BootstrapChange[], action: BootstrapChange["action"]) =>
  changes.filter((c) => c.action === action).length;

describe("desiredBuckets", () => {
  const config = loadConfig({ STORAGE_BUCKET_PREFIX: "t-", LOG_STORAGE_RETENTION_DAYS: "30" });
  const byName = new Map(desiredBuckets(config, { abortIncompleteUploads: true }).map((d) => [d.bucket, d]));

  it("covers the eight buckets with the configured versioning and encryption", () => {
    expect(byName.size).toBe(8);
    const versioned = [...byName.values()].filter((d) => d.versioned).map((d) => d.bucket);
    expect(versioned.sort()).toEqual(["t-backups", "t-config", "t-model-artifacts", "t-proto-files"]);
    expect([...byName.values()].filter((d) => d.encrypted).map((d) => d.bucket)).toEqual([
      "t-model-artifacts",
    ]);
  });

  it("gives every bucket an abort rule and the special buckets their expiry", () => {
    for (const d of byName.values()) expect(d.lifecycle.map((r) => r.abortIncompleteDays)).toContain(1);
    expect(byName.get("t-temp")?.lifecycle).toContainEqual({
      id: "lumenslate-expire-temp",
      prefix: "",
      expirationDays: 1,
    });
    expect(byName.get("t-logs")?.lifecycle).toContainEqual(
      expect.objectContaining({ expirationDays: 37, id: "lumenslate-expire-logs-backstop" }),
    );
    expect(byName.get("t-backups")?.lifecycle).toContainEqual(
      expect.objectContaining({ noncurrentDays: 90 }),
    );
    expect(byName.get("t-user-data")?.lifecycle).toHaveLength(1);
  });

  it("drops the abort rule where the backend cannot hold it", () => {
    const desired = desiredBuckets(config, { abortIncompleteUploads: false });
    expect(desired.find((d) => d.bucket === "t-user-data")?.lifecycle).toEqual([]);
    expect(desired.find((d) => d.bucket === "t-temp")?.lifecycle).toHaveLength(1);
  });

  it("follows the switches and policy mapping", () => {
    const other = loadConfig({
      PROTO_STORAGE_VERSIONING: "false",
      STORAGE_DEFAULT_ENCRYPTION: "true",
      STORAGE_BUCKET_POLICIES: "grpc-services=public-read",
    });
    const desired = desiredBuckets(other, { abortIncompleteUploads: true });
    expect(desired.find((d) => d.bucket === "proto-files")?.versioned).toBe(false);
    expect(desired.every((d) => d.encrypted)).toBe(true);
    expect(desired.filter((d) => d.policyTemplate).map((d) => [d.bucket, d.policyTemplate])).toEqual([
      ["grpc-services", "public-read"],
    ]);
  });
});

describe("normalisation", () => {
  it("compares lifecycle rules by the fields we set, in any order", () => {
    const a: LifecycleRule[] = [
      { id: "b", prefix: "", noncurrentDays: 90 },
      { id: "a", prefix: "", abortIncompleteDays: 1, expirationDays: undefined },
    ];
    expect(normaliseLifecycle(a).map((r) => r.id)).toEqual(["a", "b"]);
    expect(normaliseLifecycle(a)[0]).not.toHaveProperty("expirationDays");
    expect(sameLifecycle(a, [...a].reverse())).toBe(true);
    expect(sameLifecycle(a, [{ id: "a", prefix: "", abortIncompleteDays: 2 }, a[0] as LifecycleRule])).toBe(
      false,
    );
    expect(sameLifecycle(a, a.slice(1))).toBe(false);
  });

  const ours = {
    Version: "2012-10-17",
    Statement: [
      { Effect: "Allow", Principal: "*", Action: "s3:GetObject", Resource: "arn:aws:s3:::b/*" },
      {
        Effect: "Deny",
        Principal: { AWS: "*" },
        Action: ["s3:PutObject", "s3:DeleteObject"],
        Resource: "arn:aws:s3:::b/*",
      },
    ],
  };
  const minioSpelling = {
    Statement: [
      {
        Resource: ["arn:aws:s3:::b/*"],
        Action: ["s3:DeleteObject", "s3:PutObject"],
        Principal: { AWS: ["*"] },
        Effect: "Deny",
      },
      {
        Action: ["s3:GetObject"],
        Effect: "Allow",
        Principal: { AWS: ["*"] },
        Resource: ["arn:aws:s3:::b/*"],
      },
    ],
    Version: "2012-10-17",
  };

  it("treats re-spelled policies as the same", () => {
    expect(samePolicy(ours, minioSpelling)).toBe(true);
    expect(canonicalPolicy(ours)).toEqual(canonicalPolicy(minioSpelling));
    expect((canonicalPolicy(ours) as { Version: string }).Version).toBe("2012-10-17");
  });

  it("sees real differences", () => {
    expect(samePolicy(ours, { ...minioSpelling, Version: "2008-10-17" })).toBe(false);
    const narrower = structuredClone(minioSpelling);
    narrower.Statement[0]?.Action.pop();
    expect(samePolicy(ours, narrower)).toBe(false);
    const flipped = structuredClone(minioSpelling);
    if (flipped.Statement[1]) flipped.Statement[1].Effect = "Deny";
    expect(samePolicy(ours, flipped)).toBe(false);
  });
});

describe("bootstrapBuckets", () => {
  const config = loadConfig({ STORAGE_BUCKET_POLICIES: "grpc-services=public-read" });

  it("creates and configures everything once, then reports nothing", async () => {
    const store = fakeStore(["logs"]);
    const admin = new FakeAdmin();
    const first = await bootstrapBuckets({ store, admin, config, policiesDir });
    expect(count(first, "created")).toBe(7);
    expect(count(first, "versioning")).toBe(4);
    expect(count(first, "lifecycle")).toBe(8);
    expect(count(first, "encryption")).toBe(1);
    expect(first.filter((c) => c.action === "policy")).toEqual([
      { bucket: "grpc-services", action: "policy", detail: "template public-read" },
    ]);
    expect(count(first, "skipped")).toBe(0);
    expect(admin.state.get("grpc-services")?.policy).toMatchObject({
      Statement: [{ Resource: ["arn:aws:s3:::grpc-services/*"] }],
    });

    const writes = admin.writes;
    expect(await bootstrapBuckets({ store, admin, config, policiesDir })).toEqual([]);
    expect(admin.writes).toBe(writes);
  });

  it("repairs drift and nothing else", async () => {
    const store = fakeStore();
    const admin = new FakeAdmin();
    await bootstrapBuckets({ store, admin, config, policiesDir });
    await admin.setVersioning("backups", false);
    (admin.state.get("temp") as BucketState).lifecycle = [];
    (admin.state.get("grpc-services") as BucketState).policy = { Version: "2012-10-17", Statement: [] };
    const changes = await bootstrapBuckets({ store, admin, config, policiesDir });
    expect(changes).toEqual([
      {
        bucket: "grpc-services",
        action: "policy",
        detail: "template public-read (replaced a different policy)",
      },
      { bucket: "backups", action: "versioning", detail: "enabled (was suspended)" },
      {
        bucket: "temp",
        action: "lifecycle",
        detail: "rules lumenslate-abort-incomplete-uploads, lumenslate-expire-temp",
      },
    ]);
  });

  it("leaves unconfigured policies and stronger encryption alone", async () => {
    const store = fakeStore();
    const admin = new FakeAdmin();
    const foreign = {
      Version: "2012-10-17",
      Statement: [{ Effect: "Deny", Principal: "*", Action: "s3:*" }],
    };
    admin.state.set("user-data", { versioning: "off", lifecycle: [], policy: foreign });
    admin.state.set("model-artifacts", { versioning: "off", lifecycle: [], encryption: "aws:kms" });
    const changes = await bootstrapBuckets({ store, admin, config, policiesDir });
    expect(changes.filter((c) => c.bucket === "user-data" && c.action === "policy")).toEqual([]);
    expect(admin.state.get("user-data")?.policy).toBe(foreign);
    expect(count(changes, "encryption")).toBe(0);
    expect(admin.state.get("model-artifacts")?.encryption).toBe("aws:kms");
  });

  it("without an admin creates buckets and reports skipped settings only on creation", async () => {
    const store = fakeStore(["temp"]);
    const first = await bootstrapBuckets({ store, config, policiesDir });
    expect(count(first, "created")).toBe(7);
    expect(first.filter((c) => c.bucket === "model-artifacts").map((c) => c.detail)).toEqual([
      "bucket created",
      "versioning: not supported by the local backend",
      "lifecycle: not supported by the local backend",
      "encryption: not supported by the local backend",
    ]);
    expect(first.filter((c) => c.bucket === "temp")).toEqual([]);
    expect(await bootstrapBuckets({ store, config, policiesDir })).toEqual([]);
  });

  it("reports abort rules a backend cannot hold once, on creation", async () => {
    const store = fakeStore();
    const admin = new FakeAdmin({ abortIncompleteUploads: false });
    const first = await bootstrapBuckets({ store, admin, config, policiesDir });
    expect(count(first, "skipped")).toBe(8);
    expect(count(first, "lifecycle")).toBe(6); // temp, logs and the four versioned buckets
    expect(await bootstrapBuckets({ store, admin, config, policiesDir })).toEqual([]);
  });

  it("skips settings the backend does not implement and fails on other errors", async () => {
    const admin = new FakeAdmin();
    admin.unsupported.add("policy");
    admin.unsupported.add("encryption");
    const changes = await bootstrapBuckets({ store: fakeStore(), admin, config, policiesDir });
    expect(changes.filter((c) => c.action === "skipped")).toEqual([
      { bucket: "grpc-services", action: "skipped", detail: "policy: not supported by this backend" },
      { bucket: "model-artifacts", action: "skipped", detail: "encryption: not supported by this backend" },
    ]);

    const broken = new FakeAdmin();
    broken.getLifecycle = async () => {
      throw new StorageError("PERMISSION_DENIED", "denied");
    };
    await expect(
      bootstrapBuckets({ store: fakeStore(), admin: broken, config, policiesDir }),
    ).rejects.toMatchObject({
      code: "PERMISSION_DENIED",
    });
  });

  it("treats a bucket created concurrently by another instance as existing", async () => {
    const store = fakeStore();
    store.createBucket = async (b: string) => {
      store.buckets.add(b);
      throw new StorageError("ALREADY_EXISTS", "exists", { bucket: b });
    };
    const changes = await bootstrapBuckets({ store, config, policiesDir });
    expect(changes).toEqual([]);
  });

  it("rejects bad policy configuration before creating anything", async () => {
    const store = fakeStore();
    const missing = loadConfig({ STORAGE_BUCKET_POLICIES: "temp=no-such-template" });
    await expect(
      bootstrapBuckets({ store, admin: new FakeAdmin(), config: missing, policiesDir }),
    ).rejects.toMatchObject({ code: "INVALID_ARGUMENT" });
    const stray = loadConfig({ STORAGE_BUCKET_POLICIES: "elsewhere=public-read" });
    await expect(
      bootstrapBuckets({ store, admin: new FakeAdmin(), config: stray, policiesDir }),
    ).rejects.toMatchObject({
      code: "INVALID_ARGUMENT",
    });
    const dir = await mkdtemp(join(tmpdir(), "policies-"));
    await mkdir(join(dir, "buckets"));
    await writeFile(join(dir, "buckets", "broken.json"), "{");
    const broken = loadConfig({ STORAGE_BUCKET_POLICIES: "temp=broken" });
    await expect(
      bootstrapBuckets({ store, admin: new FakeAdmin(), config: broken, policiesDir: dir }),
    ).rejects.toMatchObject({ code: "INVALID_ARGUMENT" });
    expect(store.buckets.size).toBe(0);
  });

  it("ships templates that render to valid policies for every bucket", async () => {
    for (const template of ["public-read", "seed-public-read-write", "deny-insecure-transport"]) {
      const admin = new FakeAdmin();
      const cfg = loadConfig({ STORAGE_BUCKET_PREFIX: "p-", STORAGE_BUCKET_POLICIES: `backups=${template}` });
      await bootstrapBuckets({ store: fakeStore(), admin, config: cfg, policiesDir });
      const text = JSON.stringify(admin.state.get("p-backups")?.policy);
      expect(text).toContain("arn:aws:s3:::p-backups");
      expect(text).not.toContain("$" + "{bucket}");
    }
  });
});

describe("S3BucketAdmin error mapping", () => {
  // Only the error paths: a client whose every call fails the way a backend would answer.
  const failingWith = (name: string, status: number) =>
    new S3BucketAdmin(
      {
        send: async () => {
          throw Object.assign(new Error(name), { name, $metadata: { httpStatusCode: status } });
        },
      } as never,
      { flavour: "gcs" },
    );

  it("reads missing settings as empty", async () => {
    expect(await failingWith("NoSuchLifecycleConfiguration", 404).getLifecycle("b")).toEqual([]);
    expect(
      await failingWith("ServerSideEncryptionConfigurationNotFoundError", 404).getEncryption("b"),
    ).toBeUndefined();
    expect(await failingWith("NoSuchBucketPolicy", 404).getPolicy("b")).toBeUndefined();
  });

  it("turns NotImplemented into UNSUPPORTED_OPERATION and the rest through fromS3Error", async () => {
    await expect(failingWith("NotImplemented", 501).setPolicy("b", {})).rejects.toMatchObject({
      code: "UNSUPPORTED_OPERATION",
      details: { bucket: "b", setting: "policy" },
    });
    await expect(failingWith("NoSuchBucket", 404).getPolicy("b")).rejects.toMatchObject({
      code: "NOT_FOUND",
    });
    await expect(failingWith("AccessDenied", 403).getVersioning("b")).rejects.toMatchObject({
      code: "PERMISSION_DENIED",
    });
  });

  it("knows MinIO keeps no abort-incomplete-upload rules", () => {
    expect(new S3BucketAdmin({} as never, { flavour: "minio" }).capabilities.abortIncompleteUploads).toBe(
      false,
    );
    expect(new S3BucketAdmin({} as never, { flavour: "s3" }).capabilities.abortIncompleteUploads).toBe(true);
  });
});
