import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { MinioAdmin, type PolicyDocument } from "../backends/minio-admin.ts";
import type { Config } from "../config/config.ts";
import type { Secret } from "../config/secret.ts";
import { StorageError } from "../errors.ts";

/**
 * Least privilege at MinIO: the service runs as its own MinIO user (MINIO_ACCESS_KEY /
 * MINIO_SECRET_KEY) whose policy, rendered from policies/users/<template>.json, covers only the
 * service's buckets. `bootstrap --provision-users` creates or repairs that user and policy with the
 * admin credentials (MINIO_ADMIN_*), which the running service never needs. Idempotent: a second
 * run reports no changes.
 */

export interface ProvisionChange {
  target: string;
  action: "user" | "policy" | "attach";
  detail: string;
}

export const SERVICE_POLICY_TEMPLATE = "lumenslate-service";

// biome-ignore lint/suspicious/noTemplateCurlyInString: the literal placeholder the templates use
const BUCKET_PLACEHOLDER = "${bucket}";

/**
 * Renders a user policy template: every string in a list that holds `${bucket}` becomes one entry
 * per bucket (so `"arn:aws:s3:::${bucket}/*"` covers each service bucket and nothing else). A
 * placeholder outside a list is refused, since it could only name one bucket.
 */
export function renderUserPolicy(template: unknown, buckets: readonly string[]): PolicyDocument {
  const expand = (value: unknown): unknown => {
    if (Array.isArray(value)) {
      return value.flatMap((v) =>
        typeof v === "string" && v.includes(BUCKET_PLACEHOLDER)
          ? buckets.map((b) => v.replaceAll(BUCKET_PLACEHOLDER, b))
          : [expand(v)],
      );
    }
    if (typeof value === "string" && value.includes(BUCKET_PLACEHOLDER)) {
      throw new StorageError(
        "INVALID_ARGUMENT",
        `A ${BUCKET_PLACEHOLDER} placeholder must sit inside a list (e.g. Resource).`,
        { field: "template" },
      );
    }
    if (value && typeof value === "object") {
      return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, expand(v)]));
    }
    return value;
  };
  return expand(template) as PolicyDocument;
}

export async function loadUserPolicy(
  policiesDir: string,
  template: string,
  buckets: readonly string[],
): Promise<PolicyDocument> {
  const file = join(policiesDir, "users", `${template}.json`);
  const text = await readFile(file, "utf8").catch((err: unknown) => {
    throw new StorageError(
      "INVALID_ARGUMENT",
      `User policy template ${template} not found at ${file}.`,
      {},
      { cause: err },
    );
  });
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw new StorageError(
      "INVALID_ARGUMENT",
      `User policy template ${file} is not valid JSON.`,
      {},
      { cause: err },
    );
  }
  return renderUserPolicy(parsed, buckets);
}

/** One MinIO user with one policy rendered for `buckets`. */
export async function provisionUser(
  admin: MinioAdmin,
  user: { accessKey: string; secretKey: Secret; policyName: string; policy: PolicyDocument },
): Promise<ProvisionChange[]> {
  const changes: ProvisionChange[] = [];
  const policy = await admin.ensurePolicy(user.policyName, user.policy);
  if (policy !== "unchanged") changes.push({ target: user.policyName, action: "policy", detail: policy });
  const created = await admin.ensureUser(user.accessKey, user.secretKey);
  if (created !== "unchanged") changes.push({ target: user.accessKey, action: "user", detail: created });
  const attached = await admin.attachPolicy(user.accessKey, user.policyName);
  if (attached !== "unchanged") {
    changes.push({ target: user.accessKey, action: "attach", detail: `policy ${user.policyName}` });
  }
  return changes;
}

/** The service's own policy name: per bucket prefix, so deployments sharing a MinIO stay apart. */
export const servicePolicyName = (config: Config): string =>
  `${config.storage.bucketPrefix}${SERVICE_POLICY_TEMPLATE}`;

/** Creates or repairs the service's MinIO user (MINIO_ACCESS_KEY) and its policy, with MINIO_ADMIN_*. */
export async function provisionServiceUser(config: Config, policiesDir: string): Promise<ProvisionChange[]> {
  const invalid = (message: string) => new StorageError("INVALID_ARGUMENT", message);
  if (config.storage.backend !== "minio") {
    throw new StorageError("UNSUPPORTED_OPERATION", "--provision-users needs STORAGE_BACKEND=minio.");
  }
  const { accessKeyId, secretAccessKey, endpoint } = config.s3;
  const { accessKey: adminKey, secretKey: adminSecret, mcBinary } = config.minioAdmin;
  if (!adminKey || !adminSecret) {
    throw invalid(
      "--provision-users needs MINIO_ADMIN_ACCESS_KEY and MINIO_ADMIN_SECRET_KEY (MinIO's admin).",
    );
  }
  if (!accessKeyId || !secretAccessKey || !endpoint) {
    throw invalid(
      "--provision-users needs MINIO_ACCESS_KEY and MINIO_SECRET_KEY: the service user to create.",
    );
  }
  if (accessKeyId.reveal() === adminKey.reveal()) {
    throw invalid(
      "MINIO_ACCESS_KEY is the admin user: give the service its own access key and secret, and keep the admin ones in MINIO_ADMIN_*.",
    );
  }
  const buckets = [...new Set(Object.values(config.buckets))];
  const policy = await loadUserPolicy(policiesDir, SERVICE_POLICY_TEMPLATE, buckets);
  const admin = await MinioAdmin.open({
    mcBinary,
    endpoint,
    accessKey: adminKey,
    secretKey: adminSecret,
    ...(config.s3.caFile ? { caFile: config.s3.caFile } : {}),
  });
  try {
    return await provisionUser(admin, {
      accessKey: accessKeyId.reveal(),
      secretKey: secretAccessKey,
      policyName: servicePolicyName(config),
      policy,
    });
  } finally {
    await admin.close();
  }
}
