/**
 * Bucket-level settings (versioning, lifecycle, default encryption, policy), kept apart from
 * ObjectStore because only some backends have them: the local backend has none, and S3 flavours
 * differ in what they accept. Backend-neutral: no SDK types cross this boundary. Every method throws
 * StorageError; a setting the backend refuses to handle at all is UNSUPPORTED_OPERATION.
 */

/** "off" means versioning was never enabled; once enabled, S3 can only suspend it. */
export type VersioningState = "enabled" | "suspended" | "off";

export type EncryptionAlgorithm = "AES256" | "aws:kms";

/** A bucket policy document as parsed JSON ({ Version, Statement: [...] }). */
export type BucketPolicy = Record<string, unknown>;

/**
 * One enabled lifecycle rule in the few shapes we use. Disabled rules are not reported by
 * getLifecycle (they do nothing), and rule settings outside this shape (transitions, tag filters)
 * are not represented.
 */
export interface LifecycleRule {
  id: string;
  /** Key prefix the rule applies to; "" for the whole bucket. */
  prefix: string;
  /** Expire current objects this many days after creation. */
  expirationDays?: number;
  /** Permanently remove noncurrent versions this many days after they became noncurrent. */
  noncurrentDays?: number;
  /** Abort multipart uploads left incomplete this many days after they started. */
  abortIncompleteDays?: number;
}

export interface BucketAdminCapabilities {
  /**
   * Whether lifecycle rules may carry abortIncompleteDays. MinIO rejects or drops it (it removes
   * stale multipart uploads on its own schedule instead).
   */
  abortIncompleteUploads: boolean;
}

export interface BucketAdmin {
  readonly capabilities: BucketAdminCapabilities;

  getVersioning(bucket: string): Promise<VersioningState>;
  /** false suspends versioning (existing versions are kept). */
  setVersioning(bucket: string, enabled: boolean): Promise<void>;

  /** The bucket's enabled rules; [] when it has no lifecycle configuration. */
  getLifecycle(bucket: string): Promise<LifecycleRule[]>;
  /** Replaces the whole lifecycle configuration; [] removes it. */
  setLifecycle(bucket: string, rules: LifecycleRule[]): Promise<void>;

  /** The default encryption algorithm, or undefined when the bucket has none. */
  getEncryption(bucket: string): Promise<EncryptionAlgorithm | undefined>;
  setEncryption(bucket: string, algorithm: "AES256"): Promise<void>;

  /** The bucket policy, or undefined when the bucket has none. */
  getPolicy(bucket: string): Promise<BucketPolicy | undefined>;
  setPolicy(bucket: string, policy: BucketPolicy): Promise<void>;
  deletePolicy(bucket: string): Promise<void>;
}
