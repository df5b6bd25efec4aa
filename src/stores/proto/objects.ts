import { Readable } from "node:stream";
import type { StorageService } from "../../core/storage-service.ts";
import type { ObjectInfo } from "../../core/types.ts";
import { StorageError } from "../../errors.ts";
import { MANIFEST, type Manifest, parseManifest } from "./manifest.ts";

/**
 * The registry's objects in the proto-files bucket, through StorageService's public API only:
 * `{service}/{version}/{filename}`, `{service}/{version}/image.binpb`,
 * `{service}/{version}/manifest.json` and `{service}/{version}/generated/{language}/...`.
 */

/** A manifest is small; anything larger is not one of ours. */
const MAX_MANIFEST_BYTES = 16 * 1024 * 1024;

export const versionPrefix = (service: string, version: string) => `${service}/${version}/`;

export interface StoredManifest {
  manifest: Manifest;
  info: ObjectInfo;
}

export class ProtoObjects {
  readonly bucket: string;
  readonly #service: StorageService;

  constructor(service: StorageService, bucket: string) {
    this.#service = service;
    this.bucket = bucket;
  }

  put(
    key: string,
    content: Buffer,
    options: { owner: string; contentType?: string; ifNoneMatch?: "*"; ifMatch?: string },
  ): Promise<ObjectInfo> {
    return this.#service.upload({
      bucket: this.bucket,
      key,
      body: Readable.from([content]),
      expectedSize: content.length,
      owner: options.owner,
      ...(options.contentType ? { contentType: options.contentType } : {}),
      ...(options.ifNoneMatch ? { ifNoneMatch: options.ifNoneMatch } : {}),
      ...(options.ifMatch ? { ifMatch: options.ifMatch } : {}),
    });
  }

  /** One object's body, pinned to a version when the bucket keeps versions. */
  async open(key: string, versionId?: string): Promise<{ info: ObjectInfo; body: Readable }> {
    const pinned = versionId && versionId !== "null" ? { versionId } : {};
    const download = await this.#service.download(this.bucket, key, pinned);
    return { info: download.info, body: download.body };
  }

  async read(key: string, versionId?: string, limit = Number.MAX_SAFE_INTEGER): Promise<Buffer> {
    const { info, body } = await this.open(key, versionId);
    if (info.size > limit) {
      body.destroy();
      throw new StorageError("DATA_CORRUPTED", `${key} is larger than expected.`, { key });
    }
    const chunks: Buffer[] = [];
    for await (const chunk of body) chunks.push(chunk as Buffer);
    return Buffer.concat(chunks);
  }

  /** The version's manifest (pending or committed), or undefined when there is none. */
  async manifest(service: string, version: string): Promise<StoredManifest | undefined> {
    const key = versionPrefix(service, version) + MANIFEST;
    try {
      const { info, body } = await this.open(key);
      const chunks: Buffer[] = [];
      let size = 0;
      for await (const chunk of body) {
        size += (chunk as Buffer).length;
        if (size > MAX_MANIFEST_BYTES) {
          body.destroy();
          throw new StorageError("DATA_CORRUPTED", `${key} is not a manifest of this registry.`, { key });
        }
        chunks.push(chunk as Buffer);
      }
      return { manifest: parseManifest(Buffer.concat(chunks).toString("utf8")), info };
    } catch (err) {
      if (err instanceof StorageError && err.code === "NOT_FOUND") return undefined;
      if (err instanceof StorageError) throw err;
      throw new StorageError(
        "DATA_CORRUPTED",
        `${key} is not a manifest of this registry.`,
        { key },
        { cause: err },
      );
    }
  }

  /** The next path segments under a prefix ("" for the bucket's top level), every page of them. */
  async children(prefix: string): Promise<string[]> {
    const out: string[] = [];
    let cursor: string | undefined;
    do {
      const page = await this.#service.list(this.bucket, {
        ...(prefix ? { prefix } : {}),
        ...(cursor ? { cursor } : {}),
      });
      for (const p of page.prefixes) out.push(p.slice(prefix.length).replace(/\/$/, ""));
      cursor = page.nextCursor;
    } while (cursor);
    return out;
  }

  /** Takes back one write exactly (its version), logging nothing: callers decide. */
  withdraw(info: ObjectInfo): Promise<void> {
    return this.#service.withdraw(info);
  }
}
