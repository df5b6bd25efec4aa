import { Readable } from "node:stream";
import type { StorageService } from "../../core/storage-service.ts";
import type { ObjectInfo } from "../../core/types.ts";
import { StorageError } from "../../errors.ts";

/**
 * The config store's objects in the config bucket, through StorageService's public API only.
 * Version n of a document is its own object `{name}/_v/{n, 8 digits}` holding the source text as
 * put; its format and the version it restores travel as object metadata. Names never have a
 * segment starting with "_", so `_v/` and `_schema` cannot collide with another document.
 *
 * A version is written with If-None-Match: * : two writers that both chose n cannot both succeed,
 * so no version is lost or overwritten, on MinIO and on the local backend alike (history needs no
 * bucket versioning; on MinIO the bucket is versioned all the same, which also keeps old schemas).
 */

export const versionsPrefix = (name: string) => `${name}/_v/`;
export const versionKey = (name: string, version: number) =>
  versionsPrefix(name) + String(version).padStart(8, "0");
export const schemaKey = (name: string) => `${name}/_schema`;

const VERSION_KEY = /^(.+)\/_v\/(\d{8})$/;

export class ConfigObjects {
  readonly #service: StorageService;
  readonly bucket: string;

  constructor(service: StorageService, bucket: string) {
    this.#service = service;
    this.bucket = bucket;
  }

  put(
    key: string,
    content: string,
    options: { owner: string; contentType: string; metadata: Record<string, string>; ifNoneMatch?: "*" },
  ): Promise<ObjectInfo> {
    const bytes = Buffer.from(content, "utf8");
    return this.#service.upload({
      bucket: this.bucket,
      key,
      body: Readable.from([bytes]),
      expectedSize: bytes.length,
      owner: options.owner,
      contentType: options.contentType,
      metadata: options.metadata,
      ...(options.ifNoneMatch ? { ifNoneMatch: options.ifNoneMatch } : {}),
    });
  }

  async read(key: string, limit: number): Promise<{ info: ObjectInfo; text: string }> {
    const { info, body } = await this.#service.download(this.bucket, key);
    if (info.size > limit) {
      body.destroy();
      throw new StorageError("DATA_CORRUPTED", `${key} is larger than a config document may be.`, { key });
    }
    const chunks: Buffer[] = [];
    for await (const chunk of body) chunks.push(chunk as Buffer);
    return { info, text: Buffer.concat(chunks).toString("utf8") };
  }

  stat(key: string): Promise<ObjectInfo> {
    return this.#service.stat(this.bucket, key);
  }

  /** A document's version numbers, ascending. */
  async versions(name: string): Promise<number[]> {
    const out: number[] = [];
    for await (const key of this.#keys(versionsPrefix(name), false)) {
      const match = VERSION_KEY.exec(key);
      if (match?.[1] === name) out.push(Number(match[2]));
    }
    return out.sort((a, b) => a - b);
  }

  /** Every name with at least one version. */
  async names(): Promise<string[]> {
    const names = new Set<string>();
    for await (const key of this.#keys("", true)) {
      const match = VERSION_KEY.exec(key);
      if (match?.[1]) names.add(match[1]);
    }
    return [...names].sort();
  }

  async *#keys(prefix: string, recursive: boolean): AsyncGenerator<string> {
    let cursor: string | undefined;
    do {
      const page = await this.#service.list(this.bucket, {
        ...(prefix ? { prefix } : {}),
        recursive,
        ...(cursor ? { cursor } : {}),
      });
      for (const o of page.objects) yield o.key;
      cursor = page.nextCursor;
    } while (cursor);
  }
}
