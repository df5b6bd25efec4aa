import type { Logger } from "pino";
import type { BucketAdmin } from "../../backends/bucket-admin.ts";
import { isStorageError, StorageError } from "../../errors.ts";

/**
 * MODEL_STORAGE_ENCRYPTION: every byte of the model bucket encrypted at rest by the object store.
 * The store relies on the bucket's default encryption (bootstrap sets SSE-S3; an operator's SSE-KMS
 * counts too), so every object (blobs, staged uploads, session uploads) gets it without a header
 * per request. It is checked before the first call is served, and until it holds every call is
 * refused, naming the setting. The local backend has no server-side encryption: there the setting
 * is not enforced (the zero-setup `npm start` must work) and a warning says so once.
 */
export class EncryptionCheck {
  readonly #admin: BucketAdmin | undefined;
  readonly #bucket: string;
  readonly #required: boolean;
  readonly #logger: Logger;
  #verified = false;

  constructor(deps: { admin?: BucketAdmin; bucket: string; required: boolean; logger: Logger }) {
    this.#admin = deps.admin;
    this.#bucket = deps.bucket;
    this.#required = deps.required;
    this.#logger = deps.logger;
  }

  async ensure(): Promise<void> {
    if (this.#verified || !this.#required) return;
    if (!this.#admin) {
      this.#logger.warn(
        { bucket: this.#bucket },
        "MODEL_STORAGE_ENCRYPTION=true is not enforced on the local backend (it has no server-side " +
          "encryption): encrypt the disk, or use MinIO/S3",
      );
      this.#verified = true;
      return;
    }
    let algorithm: string | undefined;
    try {
      algorithm = await this.#admin.getEncryption(this.#bucket);
    } catch (err) {
      if (isStorageError(err) && err.code === "UNSUPPORTED_OPERATION") {
        throw refusal(
          this.#bucket,
          "this object store cannot report or provide default encryption",
          "UNSUPPORTED_OPERATION",
        );
      }
      throw err;
    }
    if (!algorithm) {
      throw refusal(
        this.#bucket,
        "the bucket has no default encryption (run `lumenslate-storage bootstrap` to set SSE-S3; MinIO needs a KMS for it)",
        "UNAVAILABLE",
      );
    }
    this.#verified = true;
  }
}

function refusal(bucket: string, why: string, code: "UNAVAILABLE" | "UNSUPPORTED_OPERATION"): StorageError {
  return new StorageError(
    code,
    `The model store is not serving: MODEL_STORAGE_ENCRYPTION=true requires server-side encryption on ` +
      `'${bucket}', but ${why}. Fix the bucket, or set MODEL_STORAGE_ENCRYPTION=false.`,
    { bucket, setting: "MODEL_STORAGE_ENCRYPTION" },
  );
}
