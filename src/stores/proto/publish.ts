import { mkdir, readFile, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import type { Logger } from "pino";
import { mapBounded } from "../../bounded.ts";
import type { ObjectInfo } from "../../core/types.ts";
import { StorageError } from "../../errors.ts";
import { breakingChanges, compile, writeBufConfig } from "./buf.ts";
import { type GeneratedFile, generate, LANGUAGES, type Language } from "./codegen.ts";
import { IMAGE, MANIFEST, type Manifest, setDigest, sha256Hex, toProtoVersion } from "./manifest.ts";
import { type ProtoObjects, type StoredManifest, versionPrefix } from "./objects.ts";
import { compareVersionText } from "./semver.ts";
import { inTempDir } from "./tools.ts";
import type { BreakingRuleSet, ProtoFileInput, PublishRequest, PublishResult } from "./types.ts";
import { checkProtoSet, checkPublishVersion, checkService } from "./validate.ts";

/**
 * Publishing a version: everything that can refuse it (names, size, compilation, the breaking
 * check) runs on a private temp copy before a byte is stored. Then the version is written under
 * a claim: a pending manifest stored create-if-absent (If-None-Match: *), so of concurrent
 * publishers of one version exactly one writes; then the files; then the manifest, committed by
 * compare-and-swap on the claim (If-Match). A failure before the commit withdraws every object
 * this publisher stored, the claim last: a version is all its files or nothing.
 */

/** How long a claim holds: writing a set of a few MiB takes seconds; a claim older than this was abandoned. */
const CLAIM_LEASE_MS = 120_000;
const UPLOADS_IN_FLIGHT = 4;

export interface PublishDeps {
  objects: ProtoObjects;
  logger: Logger;
  maxSetBytes: number;
  python: string;
  rulesFor(service: string): BreakingRuleSet;
  /** Committed versions of a service, ascending. */
  versions(service: string): Promise<Manifest[]>;
}

const isCode = (err: unknown, code: string) => err instanceof StorageError && err.code === code;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function existingOutcome(stored: Manifest, digest: string): PublishResult {
  if (stored.digest === digest) return { version: toProtoVersion(stored), created: false };
  throw new StorageError(
    "ALREADY_EXISTS",
    `Version ${stored.version} of '${stored.service}' is already published with other content; versions are immutable: publish a new version.`,
    { field: "version", digest: stored.digest },
  );
}

const contentTypeOf = (path: string) =>
  path.endsWith(".json")
    ? "application/json"
    : path.endsWith(".binpb")
      ? "application/octet-stream"
      : undefined;

export class Publisher {
  readonly #deps: PublishDeps;

  constructor(deps: PublishDeps) {
    this.#deps = deps;
  }

  async publish(req: PublishRequest): Promise<PublishResult> {
    const service = checkService(req.service);
    const version = checkPublishVersion(req.version);
    const files = checkProtoSet(req.files, this.#deps.maxSetBytes);
    const languages = this.#languages(req.generate);
    const sums = files.map((f) => ({
      filename: f.filename,
      size: f.content.length,
      sha256: sha256Hex(f.content),
    }));
    const digest = setDigest(sums);
    const existing = await this.#deps.objects.manifest(service, version);
    if (existing?.manifest.state === "committed") return existingOutcome(existing.manifest, digest);

    return inTempDir(async (dir) => {
      const moduleDir = join(dir, "src");
      const cacheDir = join(dir, "cache");
      const rules = this.#deps.rulesFor(service);
      await this.#writeSet(moduleDir, files);
      await writeBufConfig(moduleDir, rules);
      const imagePath = join(dir, IMAGE);
      await compile(moduleDir, imagePath, cacheDir);

      const violations = await this.#breakingCheck(service, version, moduleDir, dir, cacheDir);
      if (violations.length > 0 && req.allowBreaking !== true) {
        throw new StorageError(
          "PRECONDITION_FAILED",
          `Version ${version} breaks ${violations.length} ${rules} rule(s) against the latest earlier version; ` +
            `fix them or publish with the breaking-change override: ${violations.join("; ")}`,
          { field: "files", rules, violations: JSON.stringify(violations) },
        );
      }
      const generated = await generate(
        moduleDir,
        join(dir, "gen"),
        sums.map((s) => s.filename),
        languages,
        this.#deps.python,
      );
      const manifest: Manifest = {
        schema: 1,
        state: "pending",
        service,
        version,
        createdAt: new Date().toISOString(),
        digest,
        uploader: req.uploader,
        breakingRules: rules,
        breakingOverridden: violations.length > 0,
        breakingViolations: violations,
        generated: generated.reports,
        files: [],
        generatedFiles: [],
      };
      return this.#commit(manifest, files, await readFile(imagePath), generated.files);
    });
  }

  #languages(requested: PublishRequest["generate"]): Language[] {
    const languages = requested ?? [...LANGUAGES];
    for (const language of languages) {
      if (!LANGUAGES.includes(language)) {
        throw new StorageError(
          "INVALID_ARGUMENT",
          `Cannot generate '${String(language)}': choose from ${LANGUAGES.join(", ")}.`,
          {
            field: "generate",
          },
        );
      }
    }
    return [...new Set(languages)];
  }

  async #writeSet(moduleDir: string, files: ProtoFileInput[]): Promise<void> {
    for (const file of files) {
      const path = join(moduleDir, file.filename);
      await mkdir(dirname(path), { recursive: true });
      await writeFile(path, file.content);
    }
  }

  /** Violations against the latest committed version before this one (none for a first version). */
  async #breakingCheck(
    service: string,
    version: string,
    moduleDir: string,
    dir: string,
    cacheDir: string,
  ): Promise<string[]> {
    const earlier = (await this.#deps.versions(service)).filter(
      (m) => compareVersionText(m.version, version) < 0,
    );
    const previous = earlier.at(-1);
    if (!previous?.image) return [];
    const against = join(dir, "against.binpb");
    const image = await this.#deps.objects.read(
      versionPrefix(service, previous.version) + IMAGE,
      previous.image.versionId,
    );
    await writeFile(against, image);
    return breakingChanges(moduleDir, against, cacheDir);
  }

  /** Claim, write, commit; on failure withdraw what was written (see the file comment). */
  async #commit(
    manifest: Manifest,
    files: ProtoFileInput[],
    image: Buffer,
    generated: GeneratedFile[],
  ): Promise<PublishResult> {
    const { objects, logger } = this.#deps;
    const { service, version, uploader: owner } = manifest;
    const prefix = versionPrefix(service, version);
    const claimed = await this.#claim(manifest);
    if ("version" in claimed) return claimed;
    const stored: ObjectInfo[] = [];
    try {
      const put = async (path: string, content: Buffer) => {
        const contentType = contentTypeOf(path);
        const info = await objects.put(prefix + path, content, {
          owner,
          ...(contentType ? { contentType } : {}),
        });
        stored.push(info);
        return { size: content.length, sha256: sha256Hex(content), versionId: info.versionId };
      };
      manifest.files = await mapBounded(files, UPLOADS_IN_FLIGHT, async (f) => ({
        filename: f.filename,
        ...(await put(f.filename, f.content)),
      }));
      manifest.image = await put(IMAGE, image);
      manifest.generatedFiles = await mapBounded(generated, UPLOADS_IN_FLIGHT, async (g) => ({
        language: g.language,
        path: g.path,
        ...(await put(`generated/${g.language}/${g.path}`, await readFile(g.absolute))),
      }));
      const committed: Manifest = { ...manifest, state: "committed" };
      await objects
        .put(prefix + MANIFEST, Buffer.from(JSON.stringify(committed, null, 2)), {
          owner,
          contentType: "application/json",
          ifMatch: claimed.info.etag,
        })
        .catch((err: unknown) => {
          if (!isCode(err, "PRECONDITION_FAILED")) throw err;
          throw new StorageError(
            "UNAVAILABLE",
            `Publishing ${service} ${version} took too long and another publisher took it over; retry.`,
            {},
            { cause: err },
          );
        });
      // A versioned bucket keeps the claim as an older version of the manifest: it said nothing lasting.
      if (claimed.info.versionId !== "null") {
        await objects
          .withdraw(claimed.info)
          .catch((err: unknown) =>
            logger.warn({ err, service, version }, "could not remove a publication claim"),
          );
      }
      return { version: toProtoVersion(committed), created: true };
    } catch (err) {
      const results = await Promise.allSettled([...stored].map((info) => objects.withdraw(info)));
      await objects
        .withdraw(claimed.info)
        .catch((e: unknown) => results.push({ status: "rejected", reason: e }));
      for (const r of results) {
        if (r.status === "rejected") {
          logger.error(
            { err: r.reason, service, version },
            "could not withdraw part of a failed publication; `reconcile` repairs the index",
          );
        }
      }
      throw err;
    }
  }

  /**
   * The pending manifest, stored create-if-absent. When another publisher holds the claim, waits
   * for it to commit (then answers as for a re-upload) or to give up (then claims again); a claim
   * past its lease is taken over by compare-and-swap.
   */
  async #claim(manifest: Manifest): Promise<StoredManifest | PublishResult> {
    const { objects } = this.#deps;
    const key = versionPrefix(manifest.service, manifest.version) + MANIFEST;
    const body = Buffer.from(JSON.stringify(manifest, null, 2));
    const options = { owner: manifest.uploader, contentType: "application/json" };
    for (let attempt = 0; ; attempt++) {
      try {
        return { manifest, info: await objects.put(key, body, { ...options, ifNoneMatch: "*" }) };
      } catch (err) {
        if (!isCode(err, "PRECONDITION_FAILED")) throw err;
      }
      const current = await objects.manifest(manifest.service, manifest.version);
      if (current?.manifest.state === "committed") return existingOutcome(current.manifest, manifest.digest);
      if (current && Date.now() - Date.parse(current.manifest.createdAt) > CLAIM_LEASE_MS) {
        try {
          return { manifest, info: await objects.put(key, body, { ...options, ifMatch: current.info.etag }) };
        } catch (err) {
          if (!isCode(err, "PRECONDITION_FAILED")) throw err;
        }
      }
      await sleep(Math.min(1000, 50 * 2 ** Math.min(attempt, 5)));
    }
  }
}
