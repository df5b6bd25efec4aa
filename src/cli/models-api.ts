import { createReadStream } from "node:fs";
import { Readable } from "node:stream";
import type { AppContext } from "../app.ts";
import { isStorageError, StorageError } from "../errors.ts";
import type { AuditEvent } from "../security/audit.ts";
import type {
  GcReport,
  ModelFile,
  ModelListFilter,
  ModelMetadata,
  ModelVersion,
} from "../stores/models/types.ts";

/** The model store (stores/models) for the `model` commands, locally or through /v1/models. */
export interface ModelsApi {
  /** Stores each file (a blob the store already has is not sent again remotely) and publishes the version. */
  push(req: ModelPushRequest): Promise<ModelVersion>;
  /** A version by name or alias. */
  get(modelType: string, ref: string): Promise<ModelVersion>;
  /** One file of a published version, its bytes checked against `file.sha256` and size as they stream. */
  openFile(modelType: string, version: string, file: ModelFile, signal: AbortSignal): Promise<Readable>;
  list(filter: ModelListFilter): Promise<{ versions: ModelVersion[]; nextCursor?: string }>;
  remove(modelType: string, version: string, force: boolean): Promise<void>;
  setAlias(modelType: string, alias: string, version: string): Promise<void>;
  removeAlias(modelType: string, alias: string): Promise<void>;
  gc(req: { apply: boolean; graceSeconds?: number }): Promise<GcReport>;
}

export interface LocalModelFile {
  /** The file's path in the version's manifest. */
  path: string;
  /** Where it is on this machine. */
  file: string;
  size: number;
}

export interface ModelPushRequest {
  modelType: string;
  version: string;
  files: LocalModelFile[];
  metadata: ModelMetadata;
  /** Recorded in local mode; a service records the calling key's service instead. */
  owner: string;
  signal: AbortSignal;
  /** Bytes handled so far, over all files (sent, or skipped because the service had them). */
  onProgress?: (bytes: number) => void;
  /**
   * Remote mode: files of at least `threshold` bytes go through a resumable upload session when the
   * service offers them, their session ids kept under `stateDir` so that a cut push resumes.
   */
  sessions?: { threshold: number; stateDir: string | undefined };
  /** A file whose session an earlier, cut push had begun: `parts` were in the store already. */
  onResume?: (path: string, parts: number) => void;
}

/**
 * A file's bytes, counted into `onRead` as they are read (backpressure kept: a generator pulls).
 * The file is opened on the first read, not before.
 */
export function countedFile(file: string, onRead: (bytes: number) => void): Readable {
  return Readable.from(
    (async function* () {
      const source = createReadStream(file, { highWaterMark: 1024 * 1024 });
      for await (const chunk of source as AsyncIterable<Buffer>) {
        onRead(chunk.length);
        yield chunk;
      }
    })(),
  );
}

type Audited = <T>(
  event: Omit<AuditEvent, "result">,
  run: () => Promise<T>,
  describe?: (result: T) => Partial<AuditEvent>,
) => Promise<T>;

/** Local mode: the app's model store, with the CLI's audit records (see local-api.ts). */
export function localModels(app: AppContext, audited: Audited): ModelsApi {
  const store = app.models;
  const bucket = app.config.buckets.modelArtifacts;
  const event = (action: string, key: string, details: Record<string, unknown> = {}) => ({
    action,
    service: "cli",
    bucket,
    key,
    details,
  });
  return {
    push: (req) =>
      audited(
        { ...event("models.push", `${req.modelType}/${req.version}`), service: req.owner },
        async () => {
          // Refused before any byte is stored (as the store's own push does): versions never change.
          const existing = await store.get(req.modelType, req.version).catch((err: unknown) => {
            if (isStorageError(err) && err.code === "NOT_FOUND") return undefined;
            throw err;
          });
          if (existing?.version === req.version) {
            throw new StorageError(
              "ALREADY_EXISTS",
              `Version ${req.version} of '${req.modelType}' exists; push a new version.`,
              { field: "version" },
            );
          }
          let done = 0;
          const files: { path: string; sha256: string }[] = [];
          // One file at a time: the store streams each into its blob while hashing it.
          for (const f of req.files) {
            const body = countedFile(f.file, (n) => {
              done += n;
              req.onProgress?.(done);
            });
            const blob = await store.putBlob({ body, path: f.path, size: f.size }, req.owner, req.signal);
            files.push({ path: f.path, sha256: blob.sha256 });
          }
          return store.publish(req.modelType, req.version, files, req.metadata, req.owner);
        },
        (version) => ({ bytes: version.files.reduce((n, f) => n + f.size, 0) }),
      ),
    get: (modelType, ref) => store.get(modelType, ref),
    openFile: async (modelType, version, file, signal) =>
      (await store.openFile(modelType, version, file.path, signal)).body,
    list: (filter) => store.list(filter),
    remove: (modelType, version, force) =>
      audited(event("models.delete", `${modelType}/${version}`, { force }), () =>
        store.deleteVersion(modelType, version, { force }),
      ),
    setAlias: (modelType, alias, version) =>
      audited(event("models.alias-set", `${modelType}/aliases/${alias}`, { version }), () =>
        store.setAlias(modelType, alias, version),
      ),
    removeAlias: (modelType, alias) =>
      audited(event("models.alias-remove", `${modelType}/aliases/${alias}`), () =>
        store.removeAlias(modelType, alias),
      ),
    gc: (req) => {
      const run = () =>
        store.gc({
          dryRun: !req.apply,
          ...(req.graceSeconds === undefined ? {} : { graceSeconds: req.graceSeconds }),
        });
      // A dry run changes nothing: no record, as for temp sweep.
      if (!req.apply) return run();
      return audited(event("models.gc", "blobs/"), run, (report) => ({
        bytes: report.bytes,
        details: { blobs: report.blobs },
      }));
    },
  };
}
