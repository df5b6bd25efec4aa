import { NULL_VERSION, type ObjectHead } from "../backends/object-store.ts";
import { asStorageError, isStorageError } from "../errors.ts";
import type { NewObjectVersion } from "../metadata/repository.ts";
import type { CoreContext } from "./core-context.ts";
import { currentObject } from "./current-object.ts";
import type { CustomerKeyOptions } from "./types.ts";

/** The owner recorded for bytes that reached the store around the service. */
export const OUT_OF_BAND_OWNER = "out-of-band";

/** What one write stored: enough to take exactly that back. */
export interface StoredVersion {
  bucket: string;
  key: string;
  versionId: string;
  etag: string;
}

/**
 * Keeps the index following the store: a write is recorded after its object is stored, and taken
 * back if it cannot be; a row found stale is re-derived from the store. Every index write goes
 * through MetadataRepository's per-key lock with a look at the store's current object, so rows
 * follow the store's order, not the order in which requests finish.
 */
export class IndexSync {
  readonly #core: CoreContext;
  #rederived = 0;

  constructor(core: CoreContext) {
    this.#core = core;
  }

  /** Stale index rows re-derived since start (for metrics). */
  get rederived(): number {
    return this.#rederived;
  }

  /** Records a stored version; if the row cannot be written, the version is taken back. */
  async recordOrCompensate(record: NewObjectVersion, keys: CustomerKeyOptions): Promise<void> {
    try {
      await this.record(record, keys);
    } catch (err) {
      await this.discard(record, keys);
      throw asStorageError(err, "UNAVAILABLE");
    }
  }

  /**
   * Records a stored version under the key's lock, following the store's current object; a failure
   * leaves the object in place (upload sessions retry the record rather than lose the upload).
   */
  async record(record: NewObjectVersion, keys: CustomerKeyOptions = {}): Promise<void> {
    const { store, index } = this.#core;
    // `keys` opens the new object, so the index can ask the store whether it is still current.
    await index.recordVersion(record, currentObject(store, record.bucket, record.key, keys));
  }

  /**
   * Takes back exactly what one write stored, and nothing else, with the index following:
   * - a versioned write: its own version id (the previous version becomes current again);
   * - an unversioned one ("null"): only while the key still holds this write's ETag (a conditional
   *   delete), since a concurrent writer may have replaced it; then a "null" row that no longer
   *   describes the store is dropped, under the key's index lock.
   * Used when a write's row cannot be recorded, when its caller cancelled after the commit, and by
   * a multipart form rolling back the files it stored.
   */
  async withdraw(stored: StoredVersion, keys: CustomerKeyOptions = {}): Promise<void> {
    const { store, index } = this.#core;
    const { bucket, key, versionId, etag } = stored;
    if (versionId !== NULL_VERSION) {
      await store.delete(bucket, key, versionId);
      await index.removeVersion(bucket, key, versionId);
      return;
    }
    await store.delete(bucket, key, undefined, { ifMatch: etag }).catch((err: unknown) => {
      // Another writer's object is current now: it is theirs to keep.
      if (!(isStorageError(err) && err.code === "PRECONDITION_FAILED")) throw err;
    });
    await index.dropStaleNullVersion(bucket, key, currentObject(store, bucket, key, keys));
  }

  /** withdraw() for a write that failed or was cancelled: failures are logged and left to `reconcile`. */
  async discard(stored: StoredVersion, keys: CustomerKeyOptions): Promise<void> {
    await this.withdraw(stored, keys).catch((err) => {
      this.#core.log.error(
        { err, bucket: stored.bucket, key: stored.key },
        "compensation failed: object stored without index row; `reconcile` will repair it",
      );
    });
  }

  /**
   * Records what an out-of-band write left under a key (its sha256 just hashed from the store), in
   * place of the stale row. Counted and logged, never an error for the reader: the index follows
   * the store, through the same locked path as any write.
   */
  async rederive(head: ObjectHead, sha256: string, keys: CustomerKeyOptions): Promise<void> {
    const { store, index, log } = this.#core;
    this.#rederived++;
    log.warn(
      { bucket: head.bucket, key: head.key, versionId: head.versionId },
      "index row did not match the stored object (written around the service): sha256 re-derived",
    );
    const version: NewObjectVersion = {
      bucket: head.bucket,
      key: head.key,
      versionId: head.versionId,
      size: head.size,
      sha256,
      etag: head.etag,
      contentType: head.contentType,
      metadata: head.metadata,
      owner: OUT_OF_BAND_OWNER,
    };
    await index
      .recordVersion(version, currentObject(store, head.bucket, head.key, keys))
      .catch((err: unknown) => {
        log.error({ err, bucket: head.bucket, key: head.key }, "re-deriving a stale index row failed");
      });
  }
}
