import { Agent as HttpsAgent } from "node:https";
import { AssumeRoleCommand, type AssumeRoleCommandOutput, STSClient } from "@aws-sdk/client-sts";
import { NodeHttpHandler } from "@smithy/node-http-handler";
import { type Config, STS_MIN_DURATION_SECONDS } from "../config/config.ts";
import { Secret } from "../config/secret.ts";
import { validateBucket, validatePrefix } from "../core/keys.ts";
import { StorageError } from "../errors.ts";
import { type Action, authorize, type Bindings, isAllowed, type Principal } from "./scopes.ts";
import { loadMinioCa } from "./tls.ts";

/**
 * Temporary S3 credentials for direct transfers to MinIO (large files skip the service): STS
 * AssumeRole with an inline session policy that allows only the actions the key has on one
 * bucket/prefix, for a bounded time. MinIO intersects the session policy with the service user's
 * own policy, so the result never exceeds either. Needs `presign` on the target.
 */

export interface TemporaryCredentialsRequest {
  bucket: string;
  /** Key prefix the credentials are limited to ("" = the whole bucket, if the scope allows it). */
  prefix: string;
  /** From 900 (MinIO's minimum) to STS_MAX_DURATION; default 900. */
  durationSeconds?: number;
  bindings?: Bindings;
}

export interface TemporaryCredentials {
  accessKeyId: string;
  secretAccessKey: Secret;
  sessionToken: Secret;
  expiration: Date;
  /** Where to use them, and what they allow. */
  endpoint: string;
  region: string;
  bucket: string;
  prefix: string;
  actions: Action[];
}

/** S3 actions granted for each scope action (object operations only; never bucket settings). */
const S3_ACTIONS: Partial<Record<Action, string[]>> = {
  read: ["s3:GetObject"],
  write: ["s3:PutObject", "s3:AbortMultipartUpload", "s3:ListMultipartUploadParts"],
  delete: ["s3:DeleteObject"],
  list: ["s3:ListBucket"],
};

/** The inline session policy for one bucket/prefix and set of actions (exported for tests). */
export function sessionPolicy(bucket: string, prefix: string, actions: readonly Action[]): string {
  const objectActions = actions.filter((a) => a !== "list").flatMap((a) => S3_ACTIONS[a] ?? []);
  const statements: Record<string, unknown>[] = [];
  if (objectActions.length > 0) {
    statements.push({
      Effect: "Allow",
      Action: objectActions,
      Resource: [`arn:aws:s3:::${bucket}/${prefix}*`],
    });
  }
  if (actions.includes("list")) {
    statements.push({
      Effect: "Allow",
      Action: ["s3:ListBucket"],
      Resource: [`arn:aws:s3:::${bucket}`],
      ...(prefix ? { Condition: { StringLike: { "s3:prefix": [`${prefix}*`] } } } : {}),
    });
  }
  return JSON.stringify({ Version: "2012-10-17", Statement: statements });
}

export class TemporaryCredentialIssuer {
  readonly #s3: Config["s3"];
  readonly #maxDuration: number;
  readonly #backend: Config["storage"]["backend"];
  #client: Promise<STSClient> | undefined;

  constructor(config: Pick<Config, "s3" | "sts" | "storage">) {
    this.#s3 = config.s3;
    this.#backend = config.storage.backend;
    this.#maxDuration = config.sts.maxDurationSeconds;
  }

  async issue(principal: Principal, req: TemporaryCredentialsRequest): Promise<TemporaryCredentials> {
    const bucket = validateBucket(req.bucket);
    const prefix = validatePrefix(req.prefix);
    if (/[*?$]/.test(prefix)) {
      throw new StorageError("INVALID_ARGUMENT", "The prefix must not contain '*', '?' or '$'.", {
        field: "prefix",
      });
    }
    const bindings = req.bindings ?? {};
    authorize(principal, "presign", bucket, prefix || undefined, bindings);
    const actions = (["read", "write", "delete", "list"] as const).filter((a) =>
      isAllowed(principal, a, bucket, prefix || undefined, bindings),
    );
    if (actions.length === 0) {
      throw new StorageError("PERMISSION_DENIED", "The API key may not read, write, delete or list here.", {
        bucket,
      });
    }
    const duration = req.durationSeconds ?? STS_MIN_DURATION_SECONDS;
    if (
      !Number.isSafeInteger(duration) ||
      duration < STS_MIN_DURATION_SECONDS ||
      duration > this.#maxDuration
    ) {
      throw new StorageError(
        "INVALID_ARGUMENT",
        `The duration must be from ${STS_MIN_DURATION_SECONDS} to ${this.#maxDuration} seconds.`,
        { field: "durationSeconds", limit: this.#maxDuration },
      );
    }
    const client = await this.#stsClient();
    let response: AssumeRoleCommandOutput;
    try {
      response = await client.send(
        new AssumeRoleCommand({
          // MinIO ignores the role; AWS would need a real one (this feature is MinIO-only).
          RoleArn: "arn:minio:iam:::role/lumenslate-temporary",
          RoleSessionName: `lss-${principal.keyId}`.slice(0, 64),
          DurationSeconds: duration,
          Policy: sessionPolicy(bucket, prefix, actions),
        }),
      );
    } catch (err) {
      throw stsError(err);
    }
    const c = response.Credentials;
    if (!c?.AccessKeyId || !c.SecretAccessKey || !c.SessionToken || !c.Expiration) {
      throw new StorageError("INTERNAL", "The object store's STS answer carried no credentials.");
    }
    return {
      accessKeyId: c.AccessKeyId,
      secretAccessKey: new Secret(c.SecretAccessKey),
      sessionToken: new Secret(c.SessionToken),
      expiration: new Date(c.Expiration),
      endpoint: this.#s3.endpoint ?? "",
      region: this.#s3.region,
      bucket,
      prefix,
      actions,
    };
  }

  close(): void {
    this.#client?.then((c) => c.destroy()).catch(() => {});
  }

  #stsClient(): Promise<STSClient> {
    if (this.#backend !== "minio" || !this.#s3.endpoint) {
      return Promise.reject(
        new StorageError(
          "UNSUPPORTED_OPERATION",
          "Temporary credentials need the MinIO backend (STORAGE_BACKEND=minio).",
        ),
      );
    }
    this.#client ??= this.#buildClient().catch((err: unknown) => {
      this.#client = undefined;
      throw err;
    });
    return this.#client;
  }

  async #buildClient(): Promise<STSClient> {
    const { accessKeyId, secretAccessKey, endpoint, region } = this.#s3;
    const ca = await loadMinioCa(this.#s3);
    return new STSClient({
      endpoint,
      region,
      credentials:
        accessKeyId && secretAccessKey
          ? { accessKeyId: accessKeyId.reveal(), secretAccessKey: secretAccessKey.reveal() }
          : undefined,
      maxAttempts: 2,
      requestHandler: new NodeHttpHandler({
        ...(ca ? { httpsAgent: new HttpsAgent({ ca, keepAlive: true }) } : {}),
        connectionTimeout: 5_000,
        requestTimeout: 15_000,
      }),
    });
  }
}

function stsError(err: unknown): StorageError {
  const e = err as { name?: string; $metadata?: { httpStatusCode?: number } };
  const status = e.$metadata?.httpStatusCode;
  if (status === 403 || e.name === "AccessDenied") {
    return new StorageError(
      "PERMISSION_DENIED",
      "The object store refused to issue temporary credentials to the service.",
      {},
      { cause: err },
    );
  }
  if (status !== undefined && status >= 400 && status < 500) {
    return new StorageError(
      "INVALID_ARGUMENT",
      "The object store refused the STS request.",
      {},
      { cause: err },
    );
  }
  return new StorageError(
    "UNAVAILABLE",
    "The object store's STS endpoint could not be reached.",
    {},
    { cause: err },
  );
}
