import { readFile } from "node:fs/promises";
import { join } from "node:path";
import type { BucketAdmin, BucketPolicy, LifecycleRule } from "../backends/bucket-admin.ts";
import type { ObjectStore } from "../backends/object-store.ts";
import type { Config } from "../config/config.ts";
import { isStorageError, StorageError } from "../errors.ts";
import { sameLifecycle, samePolicy } from "./normalise.ts";

/**
 * Brings the service's buckets to the state the config describes, and reports what it changed.
 * Idempotent: it reads each setting, writes only what differs, and a second run returns [].
 * Bootstrap owns each bucket's whole lifecycle configuration (S3 stores one per bucket) but only
 * the policies it was told to apply: a policy nobody configured is left alone.
 */

export interface BootstrapChange {
  bucket: string;
  action: "created" | "versioning" | "lifecycle" | "encryption" | "policy" | "skipped";
  detail: string;
}

export interface BootstrapDeps {
  store: ObjectStore;
  /** Absent for backends without bucket settings (local): only creation applies. */
  admin?: BucketAdmin;
  config: Config;
  /** Directory holding buckets/<template>.json. */
  policiesDir: string;
}

export interface DesiredBucket {
  bucket: string;
  versioned: boolean;
  encrypted: boolean;
  lifecycle: LifecycleRule[];
  policyTemplate?: string;
}

/** Longer than the service's own log retention, so the service deletes first and this is a backstop. */
export const LOG_BACKSTOP_DAYS = 7;

const rule = (name: string, action: Omit<LifecycleRule, "id" | "prefix">): LifecycleRule => ({
  id: `lumenslate-${name}`,
  prefix: "",
  ...action,
});

export function desiredBuckets(
  config: Config,
  options: { abortIncompleteUploads: boolean },
): DesiredBucket[] {
  const { buckets, bucketSettings: s } = config;
  return [...new Set(Object.values(buckets))].map((bucket) => {
    const versioned = s.versioned.includes(bucket);
    const lifecycle = [
      options.abortIncompleteUploads && rule("abort-incomplete-uploads", { abortIncompleteDays: 1 }),
      bucket === buckets.temp && rule("expire-temp", { expirationDays: s.tempExpiryDays }),
      bucket === buckets.logs &&
        rule("expire-logs-backstop", { expirationDays: s.logRetentionDays + LOG_BACKSTOP_DAYS }),
      versioned && rule("expire-noncurrent", { noncurrentDays: s.noncurrentVersionDays }),
    ].filter((r) => r !== false);
    const desired: DesiredBucket = { bucket, versioned, encrypted: s.encrypted.includes(bucket), lifecycle };
    const template = s.policies[bucket];
    if (template !== undefined) desired.policyTemplate = template;
    return desired;
  });
}

export async function bootstrapBuckets(deps: BootstrapDeps): Promise<BootstrapChange[]> {
  const { store, admin, config } = deps;
  const abortIncompleteUploads = admin?.capabilities.abortIncompleteUploads ?? true;
  const desired = desiredBuckets(config, { abortIncompleteUploads });
  // Check every configured policy before touching anything, so a typo cannot leave a half-done run.
  const policies = admin
    ? await loadPolicies(config, desired, deps.policiesDir)
    : new Map<string, BucketPolicy>();
  const perBucket = await Promise.all(
    desired.map(async (want) => {
      const changes: BootstrapChange[] = [];
      const note: Note = (action, detail) => changes.push({ bucket: want.bucket, action, detail });
      const created = await ensureBucket(store, want.bucket);
      if (created) note("created", "bucket created");
      // Settings a backend never has are reported once, on creation, not as news on every start.
      if (!admin && created) for (const s of wantedSettings(want)) note("skipped", `${s}: ${LOCAL}`);
      if (admin && created && !abortIncompleteUploads) note("skipped", ABORT_UNSUPPORTED);
      if (admin) await reconcile(admin, want, policies.get(want.bucket), note);
      return changes;
    }),
  );
  return perBucket.flat();
}

const LOCAL = "not supported by the local backend";
const ABORT_UNSUPPORTED =
  "lifecycle abort of incomplete uploads: not supported by this backend (it cleans them itself)";

async function reconcile(
  admin: BucketAdmin,
  want: DesiredBucket,
  policy: BucketPolicy | undefined,
  note: Note,
) {
  const { bucket } = want;
  await step(note, "versioning", async () => {
    if (!want.versioned) return;
    const state = await admin.getVersioning(bucket);
    if (state === "enabled") return;
    await admin.setVersioning(bucket, true);
    return `enabled (was ${state})`;
  });
  await step(note, "lifecycle", async () => {
    if (sameLifecycle(await admin.getLifecycle(bucket), want.lifecycle)) return;
    await admin.setLifecycle(bucket, want.lifecycle);
    return want.lifecycle.length ? `rules ${want.lifecycle.map((r) => r.id).join(", ")}` : "rules removed";
  });
  await step(note, "encryption", async () => {
    // Any default encryption satisfies "encrypted": an operator's KMS key is never downgraded.
    if (!want.encrypted || (await admin.getEncryption(bucket))) return;
    await admin.setEncryption(bucket, "AES256");
    return "default encryption AES256 (SSE-S3)";
  });
  await step(note, "policy", async () => {
    if (!policy) return;
    const current = await admin.getPolicy(bucket);
    if (current && samePolicy(current, policy)) return;
    await admin.setPolicy(bucket, policy);
    return `template ${want.policyTemplate}${current ? " (replaced a different policy)" : ""}`;
  });
}

type Note = (action: BootstrapChange["action"], detail: string) => void;

/** Runs one setting; a backend that cannot do it at all yields "skipped" instead of failing the run. */
async function step(note: Note, action: BootstrapChange["action"], fn: () => Promise<string | undefined>) {
  try {
    const detail = await fn();
    if (detail !== undefined) note(action, detail);
  } catch (err) {
    if (!isStorageError(err) || err.code !== "UNSUPPORTED_OPERATION") throw err;
    note("skipped", `${action}: not supported by this backend`);
  }
}

async function ensureBucket(store: ObjectStore, bucket: string): Promise<boolean> {
  if (await store.bucketExists(bucket)) return false;
  try {
    await store.createBucket(bucket);
    return true;
  } catch (err) {
    // Another instance bootstrapping at the same moment won the race: the bucket exists, all is well.
    if (isStorageError(err) && err.code === "ALREADY_EXISTS") return false;
    throw err;
  }
}

function wantedSettings(want: DesiredBucket): string[] {
  return [
    ...(want.versioned ? ["versioning"] : []),
    ...(want.lifecycle.length ? ["lifecycle"] : []),
    ...(want.encrypted ? ["encryption"] : []),
    ...(want.policyTemplate ? ["policy"] : []),
  ];
}

// biome-ignore lint/suspicious/noTemplateCurlyInString: the literal placeholder the templates use
const BUCKET_PLACEHOLDER = "${bucket}";

async function loadPolicies(
  config: Config,
  desired: DesiredBucket[],
  dir: string,
): Promise<Map<string, BucketPolicy>> {
  const invalid = (message: string, bucket: string, cause?: unknown) =>
    new StorageError("INVALID_ARGUMENT", message, { bucket }, { cause });
  const known = new Set(desired.map((d) => d.bucket));
  const stray = Object.keys(config.bucketSettings.policies).find((b) => !known.has(b));
  if (stray) throw invalid(`STORAGE_BUCKET_POLICIES names ${stray}, which is not a service bucket.`, stray);
  const out = new Map<string, BucketPolicy>();
  for (const { bucket, policyTemplate: name } of desired) {
    if (!name) continue;
    const file = join(dir, "buckets", `${name}.json`);
    const text = await readFile(file, "utf8").catch((err) => {
      throw invalid(`Bucket policy template ${name} not found at ${file}.`, bucket, err);
    });
    try {
      out.set(bucket, JSON.parse(text.replaceAll(BUCKET_PLACEHOLDER, bucket)) as BucketPolicy);
    } catch (err) {
      throw invalid(`Bucket policy template ${file} is not valid JSON.`, bucket, err);
    }
  }
  return out;
}
