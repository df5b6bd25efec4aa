import { createHash } from "node:crypto";
import type { ObjectInfo } from "../../core/types.ts";
import { StorageError } from "../../errors.ts";
import { diffValues } from "./diff.ts";
import { FlagCache } from "./flag-cache.ts";
import { FLAG_PREFIX, parseFlag } from "./flags.ts";
import { checkFlagName, checkName, checkSubject, checkVersion } from "./names.ts";
import { type ConfigObjects, schemaKey, versionKey } from "./objects.ts";
import { parseSource } from "./parse.ts";
import { checkAgainst, compileSchema } from "./schema.ts";
import type {
  ConfigDiff,
  ConfigDocument,
  ConfigSchema,
  ConfigStore,
  ConfigVersion,
  DocumentFormat,
  FlagEvaluation,
  JsonValue,
  PutDocumentRequest,
} from "./types.ts";

/** How often a put re-reads the latest version after losing a race for the next number. */
const WRITE_ATTEMPTS = 16;

const CONTENT_TYPE: Record<DocumentFormat, string> = { json: "application/json", yaml: "application/yaml" };
const META = { format: "config-format", restoredFrom: "config-restored-from" } as const;

const notFound = (what: string, field: string) =>
  new StorageError("NOT_FOUND", `${what} does not exist.`, { field });

export class Store implements ConfigStore {
  readonly #objects: ConfigObjects;
  readonly #maxBytes: number;
  readonly #flags: FlagCache;

  constructor(deps: {
    objects: ConfigObjects;
    maxDocumentBytes: number;
    flagCacheTtlSeconds: number;
  }) {
    this.#objects = deps.objects;
    this.#maxBytes = deps.maxDocumentBytes;
    this.#flags = new FlagCache(deps.flagCacheTtlSeconds * 1000, Date.now);
  }

  async put(req: PutDocumentRequest): Promise<ConfigVersion> {
    const name = checkName(req.name);
    this.#checkSize(req.source);
    const value = parseSource(req.source, req.format);
    return this.#write(name, req.source, req.format, value, req.author, req.expectedVersion);
  }

  async get(name: string, version?: number): Promise<ConfigDocument> {
    checkName(name);
    const n = version === undefined ? await this.#latest(name) : checkVersion(version);
    if (n === 0) throw notFound(`Config document '${name}'`, "name");
    const { info, text } = await this.#read(name, n);
    const meta = this.#version(name, n, info);
    return { ...meta, source: text, value: parseSource(text, meta.format) };
  }

  async history(name: string): Promise<ConfigVersion[]> {
    checkName(name);
    const versions = await this.#objects.versions(name);
    if (versions.length === 0) throw notFound(`Config document '${name}'`, "name");
    // Stats one at a time: documents have tens of versions, and the listing holds no metadata.
    const out: ConfigVersion[] = [];
    for (const n of versions) out.push(this.#version(name, n, await this.#objects.stat(versionKey(name, n))));
    return out;
  }

  async diff(name: string, from: number, to: number): Promise<ConfigDiff> {
    const [a, b] = await Promise.all([
      this.get(name, checkVersion(from, "from")),
      this.get(name, checkVersion(to, "to")),
    ]);
    return { name, from, to, ...diffValues(a.value, b.value) };
  }

  async rollback(name: string, version: number, author: string): Promise<ConfigVersion> {
    const old = await this.get(name, version);
    return this.#write(old.name, old.source, old.format, old.value, author, undefined, old.version);
  }

  names(): Promise<string[]> {
    return this.#objects.names();
  }

  async putSchema(
    name: string,
    source: string,
    format: DocumentFormat,
    author: string,
  ): Promise<ConfigSchema> {
    checkName(name);
    this.#checkSize(source);
    const schema = parseSource(source, format, "schema");
    const stored = JSON.stringify(schema);
    const validate = compileSchema(schema, sha256Of(stored));
    // A schema the current document breaks would block every later put and rollback: refuse it.
    const latest = await this.#latest(name);
    if (latest > 0) checkAgainst(validate, (await this.get(name, latest)).value, name);
    const info = await this.#objects.put(schemaKey(name), stored, {
      owner: author,
      contentType: "application/schema+json",
      metadata: {},
    });
    return { name, schema, sha256: info.sha256 ?? "", createdAt: info.lastModified, author };
  }

  async getSchema(name: string): Promise<ConfigSchema> {
    checkName(name);
    const found = await this.#schema(name);
    if (!found) throw notFound(`A JSON Schema for '${name}'`, "name");
    return found;
  }

  async evaluateFlag(flag: string, subject: string): Promise<FlagEvaluation> {
    checkFlagName(flag);
    checkSubject(subject);
    return this.#flags.evaluate(flag, subject, async () => {
      const doc = await this.get(FLAG_PREFIX + flag).catch((err: unknown) => {
        if (err instanceof StorageError && err.code === "NOT_FOUND") throw notFound(`Flag '${flag}'`, "flag");
        throw err;
      });
      return { flag: parseFlag(doc.value), version: doc.version };
    });
  }

  async #write(
    name: string,
    source: string,
    format: DocumentFormat,
    value: JsonValue,
    author: string,
    expectedVersion: number | undefined,
    restoredFrom?: number,
  ): Promise<ConfigVersion> {
    if (name.startsWith(FLAG_PREFIX)) {
      checkFlagName(name.slice(FLAG_PREFIX.length));
      parseFlag(value);
    }
    const schema = await this.#schema(name);
    if (schema) checkAgainst(compileSchema(schema.schema, schema.sha256), value, name);
    // The highest number this put saw taken: the index may not list a just-written version yet.
    let taken = 0;
    for (let attempt = 1; ; attempt++) {
      const latest = await this.#latest(name);
      if (expectedVersion !== undefined && latest !== expectedVersion) {
        throw new StorageError(
          "PRECONDITION_FAILED",
          `'${name}' is at version ${latest}, not ${expectedVersion}: read it again and reapply your change.`,
          { field: "expectedVersion", latest },
        );
      }
      const next = Math.max(latest, taken) + 1;
      try {
        const info = await this.#objects.put(versionKey(name, next), source, {
          owner: author,
          contentType: CONTENT_TYPE[format],
          metadata: {
            [META.format]: format,
            ...(restoredFrom ? { [META.restoredFrom]: String(restoredFrom) } : {}),
          },
          ifNoneMatch: "*",
        });
        if (name.startsWith(FLAG_PREFIX)) this.#flags.forget(name.slice(FLAG_PREFIX.length));
        return this.#version(name, next, info);
      } catch (err) {
        // Another writer took that number first: with expectedVersion the caller must look again;
        // without, take the next number (its write is kept, and ours lands after it).
        const lostRace = err instanceof StorageError && err.code === "PRECONDITION_FAILED";
        if (!lostRace || attempt >= WRITE_ATTEMPTS) throw err;
        if (expectedVersion !== undefined) {
          throw new StorageError(
            "PRECONDITION_FAILED",
            `Another writer stored version ${next} of '${name}' first: read it again and reapply your change.`,
            { field: "expectedVersion", latest: next },
          );
        }
        taken = next;
      }
    }
  }

  async #latest(name: string): Promise<number> {
    return (await this.#objects.versions(name)).at(-1) ?? 0;
  }

  async #read(name: string, version: number) {
    try {
      return await this.#objects.read(versionKey(name, version), this.#maxBytes);
    } catch (err) {
      if (err instanceof StorageError && err.code === "NOT_FOUND") {
        throw notFound(`Version ${version} of '${name}'`, "version");
      }
      throw err;
    }
  }

  async #schema(name: string): Promise<ConfigSchema | undefined> {
    try {
      const { info, text } = await this.#objects.read(schemaKey(name), this.#maxBytes * 2);
      return {
        name,
        schema: JSON.parse(text) as JsonValue,
        sha256: info.sha256 ?? sha256Of(text),
        createdAt: info.lastModified,
        author: info.owner ?? "",
      };
    } catch (err) {
      if (err instanceof StorageError && err.code === "NOT_FOUND") return undefined;
      throw err;
    }
  }

  #version(name: string, version: number, info: ObjectInfo): ConfigVersion {
    const format: DocumentFormat = info.metadata[META.format] === "yaml" ? "yaml" : "json";
    const restored = Number(info.metadata[META.restoredFrom]);
    return {
      name,
      version,
      format,
      createdAt: info.lastModified,
      author: info.owner ?? "",
      sha256: info.sha256 ?? "",
      size: info.size,
      ...(restored > 0 ? { restoredFrom: restored } : {}),
    };
  }

  #checkSize(source: string): void {
    const size = Buffer.byteLength(source, "utf8");
    if (size > this.#maxBytes) {
      throw new StorageError(
        "TOO_LARGE",
        `The document is ${size} bytes; the limit is ${this.#maxBytes} (CONFIG_MAX_DOCUMENT_BYTES).`,
        { limit: this.#maxBytes, field: "content" },
      );
    }
  }
}

function sha256Of(text: string): string {
  return createHash("sha256").update(text).digest("hex");
}
