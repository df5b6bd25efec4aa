import type { Readable } from "node:stream";
import type { Logger } from "pino";
import { mapBounded } from "../../bounded.ts";
import type { UploadSession } from "../../core/upload-sessions.ts";
import { StorageError } from "../../errors.ts";
import type { Blobs } from "./blobs.ts";
import type { EncryptionCheck } from "./encryption.ts";
import { collectGarbage } from "./gc.ts";
import {
  checkAlias,
  checkFileList,
  checkFilePath,
  checkMetadata,
  checkModelType,
  checkRef,
  checkSha256,
  checkVersion,
} from "./names.ts";
import type { Registry } from "./registry.ts";
import type {
  BlobInput,
  Encoding,
  GcReport,
  ModelFile,
  ModelFileInput,
  ModelListFilter,
  ModelMetadata,
  ModelStore,
  ModelVersion,
  StoredBlob,
} from "./types.ts";

const BLOB_CHECKS_IN_FLIGHT = 8;
const TAG = /^[A-Za-z0-9_.:-]{1,64}$/;

/**
 * The model store: content-addressed blobs (blobs.ts) named by versions in the registry
 * (registry.ts). A version is published only when every blob it names is stored, so a manifest
 * never points at bytes that are not there; versions never change once published.
 */
export class Models implements ModelStore {
  readonly #blobs: Blobs;
  readonly #registry: Registry;
  readonly #encryption: EncryptionCheck;
  readonly #logger: Logger;

  constructor(deps: { blobs: Blobs; registry: Registry; encryption: EncryptionCheck; logger: Logger }) {
    this.#blobs = deps.blobs;
    this.#registry = deps.registry;
    this.#encryption = deps.encryption;
    this.#logger = deps.logger;
  }

  async putBlob(input: BlobInput, owner: string, signal?: AbortSignal): Promise<StoredBlob> {
    try {
      await this.#encryption.ensure();
    } catch (err) {
      input.body.resume();
      throw err;
    }
    return this.#blobs.put(input, owner, signal);
  }

  async openBlobSession(
    req: { sha256: string; size: number; path: string; partSize?: number },
    owner: string,
  ): Promise<{ blob: StoredBlob } | { session: UploadSession }> {
    checkFilePath(req.path);
    await this.#encryption.ensure();
    return this.#blobs.session(req, owner);
  }

  async hasBlob(
    sha256: string,
  ): Promise<{ size: number; storedSize: number; encoding: Encoding } | undefined> {
    const hex = checkSha256(sha256);
    await this.#encryption.ensure();
    const blob = await this.#blobs.find(hex);
    return blob ? { size: blob.size, storedSize: blob.storedSize, encoding: blob.encoding } : undefined;
  }

  async publish(
    modelType: string,
    version: string,
    files: { path: string; sha256: string }[],
    metadata: ModelMetadata,
    owner: string,
  ): Promise<ModelVersion> {
    checkModelType(modelType);
    checkVersion(version);
    const list = checkFileList(files).map((f) => ({
      path: f.path,
      sha256: checkSha256(f.sha256, "files.sha256"),
    }));
    const meta = checkMetadata(metadata);
    await this.#encryption.ensure();
    const resolved = await mapBounded(list, BLOB_CHECKS_IN_FLIGHT, async (f): Promise<ModelFile> => {
      const blob = await this.#blobs.find(f.sha256);
      if (!blob) {
        throw new StorageError(
          "PRECONDITION_FAILED",
          `The file '${f.path}' names blob ${f.sha256}, which is not stored: upload it first (POST /v1/models/blobs).`,
          { field: "files", path: f.path, sha256: f.sha256 },
        );
      }
      return {
        path: f.path,
        size: blob.size,
        sha256: f.sha256,
        storedSize: blob.storedSize,
        encoding: blob.encoding,
      };
    });
    await this.#registry.insert({ modelType, version, files: resolved, metadata: meta, uploader: owner });
    this.#logger.info({ modelType, version, files: resolved.length }, "model version published");
    return this.#registry.resolve(modelType, version);
  }

  async push(
    modelType: string,
    version: string,
    files: ModelFileInput[],
    metadata: ModelMetadata,
    owner: string,
    signal?: AbortSignal,
  ): Promise<ModelVersion> {
    const drainAll = () => {
      for (const f of files) f.body.resume();
    };
    let meta: ModelMetadata;
    try {
      checkModelType(modelType);
      checkVersion(version);
      checkFileList(files);
      meta = checkMetadata(metadata);
      await this.#encryption.ensure();
      // Refused before any byte is sent: versions never change.
      if (await this.#exists(modelType, version)) {
        throw new StorageError(
          "ALREADY_EXISTS",
          `Version ${version} of '${modelType}' exists; publish a new one.`,
          {
            field: "version",
          },
        );
      }
    } catch (err) {
      drainAll();
      throw err;
    }
    const manifest: { path: string; sha256: string }[] = [];
    for (const [i, f] of files.entries()) {
      try {
        const blob = await this.#blobs.put(f, owner, signal);
        manifest.push({ path: f.path, sha256: blob.sha256 });
      } catch (err) {
        // Blobs already stored stay for the next push to reuse (gc takes them if it never comes).
        for (const rest of files.slice(i + 1)) rest.body.resume();
        throw err;
      }
    }
    return this.publish(modelType, version, manifest, meta, owner);
  }

  async get(modelType: string, ref: string): Promise<ModelVersion> {
    checkModelType(modelType);
    checkRef(ref);
    await this.#encryption.ensure();
    return this.#registry.resolve(modelType, ref);
  }

  async openFile(
    modelType: string,
    ref: string,
    path: string,
    signal?: AbortSignal,
  ): Promise<{ file: ModelFile; body: Readable }> {
    const p = checkFilePath(path);
    const version = await this.get(modelType, ref);
    const file = version.files.find((f) => f.path === p);
    if (!file) {
      throw new StorageError(
        "NOT_FOUND",
        `Version ${version.version} of '${modelType}' has no file '${p}'.`,
        {
          field: "path",
        },
      );
    }
    return { file, body: await this.#blobs.open(file, signal) };
  }

  async list(filter: ModelListFilter): Promise<{ versions: ModelVersion[]; nextCursor?: string }> {
    if (filter.modelType !== undefined) checkModelType(filter.modelType);
    if (filter.tag !== undefined && !TAG.test(filter.tag)) {
      throw invalid("tag", "A tag is 1-64 characters of A-Z, a-z, 0-9, '_', '.', ':', '-'.");
    }
    if (filter.metadata !== undefined && !TAG.test(filter.metadata.key)) {
      throw invalid("metadata", "A metadata key is 1-64 characters of A-Z, a-z, 0-9, '_', '.', ':', '-'.");
    }
    if (filter.createdAfter !== undefined && Number.isNaN(filter.createdAfter.getTime())) {
      throw invalid("createdAfter", "createdAfter must be a date and time (ISO 8601).");
    }
    if (
      filter.limit !== undefined &&
      (!Number.isSafeInteger(filter.limit) || filter.limit < 1 || filter.limit > 1000)
    ) {
      throw invalid("limit", "limit is a whole number from 1 to 1000.");
    }
    await this.#encryption.ensure();
    return this.#registry.list(filter);
  }

  async deleteVersion(modelType: string, version: string, options: { force?: boolean }): Promise<void> {
    checkModelType(modelType);
    checkVersion(version);
    await this.#encryption.ensure();
    await this.#registry.delete(modelType, version, options.force === true);
    this.#logger.info({ modelType, version, force: options.force === true }, "model version deleted");
  }

  async setAlias(modelType: string, alias: string, version: string): Promise<void> {
    checkModelType(modelType);
    checkAlias(alias);
    checkVersion(version);
    await this.#encryption.ensure();
    await this.#registry.setAlias(modelType, alias, version);
  }

  async removeAlias(modelType: string, alias: string): Promise<void> {
    checkModelType(modelType);
    checkAlias(alias);
    await this.#encryption.ensure();
    await this.#registry.removeAlias(modelType, alias);
  }

  async gc(options: { dryRun: boolean; graceSeconds?: number }): Promise<GcReport> {
    await this.#encryption.ensure();
    return collectGarbage({ blobs: this.#blobs, registry: this.#registry, logger: this.#logger }, options);
  }

  async #exists(modelType: string, version: string): Promise<boolean> {
    try {
      const found = await this.#registry.resolve(modelType, version);
      return found.version === version;
    } catch (err) {
      if (err instanceof StorageError && err.code === "NOT_FOUND") return false;
      throw err;
    }
  }
}

const invalid = (field: string, message: string) => new StorageError("INVALID_ARGUMENT", message, { field });
