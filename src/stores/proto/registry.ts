import type { Readable } from "node:stream";
import type { Logger } from "pino";
import { mapBounded } from "../../bounded.ts";
import type { StorageService } from "../../core/storage-service.ts";
import { StorageError } from "../../errors.ts";
import { imageToJson } from "./buf.ts";
import { diffOutlines, type Outline, outline } from "./descriptors.ts";
import { IMAGE, type Manifest, toProtoVersion } from "./manifest.ts";
import { type ProtoObjects, versionPrefix } from "./objects.ts";
import type { Publisher } from "./publish.ts";
import { compareVersionText, parseSemVer } from "./semver.ts";
import { type TarEntry, tarGz } from "./tar.ts";
import { inTempDir } from "./tools.ts";
import type {
  ProtoDefinitions,
  ProtoDiff,
  ProtoRegistry,
  ProtoVersion,
  PublishRequest,
  PublishResult,
  UploadGeneratedRequest,
} from "./types.ts";
import { checkLanguage, checkRelativePath, checkService, checkVersionOrAlias, LATEST } from "./validate.ts";

const MANIFEST_READS_IN_FLIGHT = 8;

const notFound = (what: string, details: Record<string, string>) =>
  new StorageError("NOT_FOUND", `${what} does not exist.`, details);

/** The registry's reads, and uploads of caller-generated code; publishing is Publisher's. */
export class Registry implements ProtoRegistry {
  readonly #objects: ProtoObjects;
  readonly #publisher: Publisher;
  readonly #storage: StorageService;
  readonly #generatedBucket: string;

  constructor(deps: {
    objects: ProtoObjects;
    storage: StorageService;
    generatedBucket: string;
    logger: Logger;
    publisher: (versions: (service: string) => Promise<Manifest[]>) => Publisher;
  }) {
    this.#objects = deps.objects;
    this.#storage = deps.storage;
    this.#generatedBucket = deps.generatedBucket;
    this.#publisher = deps.publisher((service) => this.#committed(service));
  }

  publish(req: PublishRequest): Promise<PublishResult> {
    return this.#publisher.publish(req);
  }

  async versions(service: string): Promise<ProtoVersion[]> {
    return (await this.#committed(checkService(service))).map(toProtoVersion);
  }

  async resolve(service: string, versionOrAlias: string): Promise<ProtoVersion> {
    return toProtoVersion(await this.#resolve(service, versionOrAlias));
  }

  async downloadFile(service: string, versionOrAlias: string, filename: string) {
    checkRelativePath(filename);
    const m = await this.#resolve(service, versionOrAlias);
    const entry = m.files.find((f) => f.filename === filename);
    if (!entry) throw notFound(`File '${filename}' in ${m.service} ${m.version}`, { field: "filename" });
    const { info, body } = await this.#objects.open(
      versionPrefix(m.service, m.version) + filename,
      entry.versionId,
    );
    // The manifest pins the content: another object at that key is not this version's file.
    if (info.sha256 !== entry.sha256) {
      body.destroy();
      throw new StorageError(
        "DATA_CORRUPTED",
        `The stored '${filename}' is not the one ${m.version} published.`,
        {
          key: info.key,
        },
      );
    }
    return { info: { filename: entry.filename, size: entry.size, sha256: entry.sha256 }, body };
  }

  async downloadTarball(service: string, versionOrAlias: string): Promise<Readable> {
    const m = await this.#resolve(service, versionOrAlias);
    const prefix = versionPrefix(m.service, m.version);
    const mtime = new Date(m.createdAt);
    const entry = (path: string, key: string, f: { size: number; versionId: string }): TarEntry => ({
      path,
      size: f.size,
      mtime,
      open: async () => (await this.#objects.open(key, f.versionId)).body,
    });
    const entries = [
      ...m.files.map((f) => entry(f.filename, prefix + f.filename, f)),
      ...m.generatedFiles.map((g) => {
        const path = `generated/${g.language}/${g.path}`;
        return entry(path, prefix + path, g);
      }),
    ];
    return tarGz(entries);
  }

  async diff(service: string, from: string, to: string): Promise<ProtoDiff> {
    const [a, b] = await Promise.all([this.#resolve(service, from), this.#resolve(service, to)]);
    const [before, after] = await Promise.all([this.#outline(a), this.#outline(b)]);
    return diffOutlines(a.version, b.version, before, after);
  }

  async definitions(service: string, versionOrAlias: string): Promise<ProtoDefinitions> {
    const { messages, services, enums } = await this.#outline(await this.#resolve(service, versionOrAlias));
    return { messages, services, enums };
  }

  async services(): Promise<string[]> {
    return (await this.#objects.children("")).sort();
  }

  async uploadGenerated(req: UploadGeneratedRequest) {
    const language = checkLanguage(req.language);
    checkRelativePath(req.filename);
    const m = await this.#resolve(req.service, req.version);
    const key = `${m.service}/${m.version}/${language}/${req.filename}`;
    const info = await this.#storage.upload({
      bucket: this.#generatedBucket,
      key,
      body: req.body,
      owner: req.uploader,
      metadata: { "proto-service": m.service, "proto-version": m.version, uploader: req.uploader },
    });
    return { bucket: info.bucket, key: info.key, sha256: info.sha256 ?? "", size: info.size };
  }

  /** Committed versions, ascending by semver precedence. */
  async #committed(service: string): Promise<Manifest[]> {
    const names = (await this.#objects.children(`${service}/`)).filter((v) => parseSemVer(v));
    const manifests = await mapBounded(names, MANIFEST_READS_IN_FLIGHT, (v) =>
      this.#objects.manifest(service, v),
    );
    return manifests
      .flatMap((s) => (s?.manifest.state === "committed" ? [s.manifest] : []))
      .sort((a, b) => compareVersionText(a.version, b.version));
  }

  /**
   * A committed version, or NOT_FOUND. "latest" is the highest release; a service that has only
   * pre-releases has its highest pre-release as latest.
   */
  async #resolve(service: string, versionOrAlias: string): Promise<Manifest> {
    checkService(service);
    checkVersionOrAlias(versionOrAlias);
    if (versionOrAlias === LATEST) {
      const all = await this.#committed(service);
      const releases = all.filter((m) => parseSemVer(m.version)?.prerelease.length === 0);
      const latest = (releases.length > 0 ? releases : all).at(-1);
      if (!latest) throw notFound(`A version of '${service}'`, { field: "service" });
      return latest;
    }
    const stored = await this.#objects.manifest(service, versionOrAlias);
    if (stored?.manifest.state !== "committed") {
      throw notFound(`Version ${versionOrAlias} of '${service}'`, { field: "version" });
    }
    return stored.manifest;
  }

  async #outline(m: Manifest): Promise<Outline> {
    if (!m.image) throw notFound(`The compiled image of ${m.service} ${m.version}`, { field: "version" });
    const image = await this.#objects.read(versionPrefix(m.service, m.version) + IMAGE, m.image.versionId);
    const json = await inTempDir((dir) => imageToJson(image, dir, dir));
    return outline(json, new Set(m.files.map((f) => f.filename)));
  }
}
