import type { CustomerKeyOption, ObjectStore } from "../backends/object-store.ts";
import { isStorageError } from "../errors.ts";
import type { StoreCurrent } from "../metadata/repository.ts";

/**
 * Asks the store which object it serves as a key's current one, for the index to follow (the
 * repository calls this under the key's lock; see MetadataRepository.recordVersion). The HEAD
 * carries the writer's SSE-C key: if the current object is the writer's it opens with that key,
 * and any SSE-C refusal (key required, wrong key, key not applicable) means it is someone else's.
 */
export function currentObject(
  store: ObjectStore,
  bucket: string,
  key: string,
  options: CustomerKeyOption,
): () => Promise<StoreCurrent> {
  return () =>
    store.head(bucket, key, undefined, options).then(
      (head): StoreCurrent => ({ versionId: head.versionId, etag: head.etag }),
      (err: unknown): StoreCurrent => {
        if (isStorageError(err) && err.code === "NOT_FOUND") return "absent";
        if (isStorageError(err) && err.details.sseCustomerKey !== undefined) return "other";
        throw err;
      },
    );
}
