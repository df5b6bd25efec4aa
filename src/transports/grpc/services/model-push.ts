import { once } from "node:events";
import { PassThrough } from "node:stream";
import { setImmediate as nextTurn } from "node:timers/promises";
import type { handleClientStreamingCall } from "@grpc/grpc-js";
import { StorageError } from "../../../errors.ts";
import {
  checkFilePath,
  checkMetadata,
  checkModelType,
  checkSha256,
  checkVersion,
  MAX_FILES,
} from "../../../stores/models/names.ts";
import type { ModelMetadata, ModelStore, StoredBlob } from "../../../stores/models/types.ts";
import type { ModelFileHeader__Output } from "../generated/lumenslate/storage/v1/ModelFileHeader.ts";
import type { ModelVersion as ModelVersionMessage } from "../generated/lumenslate/storage/v1/ModelVersion.ts";
import type { PushModelRequest__Output } from "../generated/lumenslate/storage/v1/PushModelRequest.ts";
import { type CallScope, openScope } from "./call-scope.ts";
import type { AuditFacts } from "./gate.ts";
import { metadataFromMessage, versionBytes, versionMessage } from "./model-messages.ts";
import type { StreamedUploadDeps } from "./upload.ts";

export interface PushDeps extends StreamedUploadDeps {
  models: ModelStore;
  bucket: string;
}

const invalid = (message: string) => new StorageError("INVALID_ARGUMENT", message, { field: "payload" });

/** The file being received: its bytes go into `body`, which the store reads as `stored` settles. */
interface Incoming {
  path: string;
  body: PassThrough;
  stored: Promise<StoredBlob>;
  /** Set once the store has answered: a blob it already had is not read, so later chunks are dropped. */
  settled: boolean;
}

/**
 * PushModel: a header, then per file a file header and its chunks. Each file is handed to the
 * store's putBlob as its header arrives and fed chunk by chunk, waiting for the store to drain each
 * one, so a push of any size holds about one chunk per file in memory and gRPC flow control slows
 * the client to the store's pace. The version is published only after the stream ended cleanly and
 * every blob is stored: a failed or cancelled push publishes nothing, and the blobs it had stored
 * are unreferenced, for `gc` to remove after its grace period.
 */
export function pushModel(
  deps: PushDeps,
): handleClientStreamingCall<PushModelRequest__Output, ModelVersionMessage> {
  return (call, callback) => {
    const scope = openScope(call, deps.logger, deps.security);
    const work = scope.gate.mutation("models.push", (facts) => receive(call, scope, deps, facts));
    deps.inFlight.track(
      work.then(
        (version) => {
          scope.answered();
          callback(null, version);
        },
        // Leaving the for-await loop early has destroyed the call's stream already.
        (err: unknown) => {
          scope.answered();
          callback(scope.status(err));
        },
      ),
    );
  };
}

async function receive(
  messages: AsyncIterable<PushModelRequest__Output>,
  scope: CallScope,
  deps: PushDeps,
  facts: AuditFacts,
): Promise<ModelVersionMessage> {
  const { models, bucket } = deps;
  facts.bucket = bucket;
  let owner: string | undefined;
  let header: { modelType: string; version: string } | undefined;
  let metadata: ModelMetadata = {};
  const files: { path: string; sha256: string }[] = [];
  const paths = new Set<string>();
  let current: Incoming | undefined;
  let deduplicated = 0;
  let mayReadBlobs = false;

  const finish = async () => {
    if (!current) return;
    const file = current;
    current = undefined;
    file.body.end();
    const stored = await file.stored;
    if (stored.deduplicated) deduplicated += 1;
    files.push({ path: file.path, sha256: stored.sha256 });
  };

  try {
    for await (const message of messages) {
      if (!header) {
        if (message.payload !== "header" || !message.header) {
          throw invalid("The first PushModel message must carry the header.");
        }
        const h = message.header;
        header = { modelType: checkModelType(h.modelType), version: checkVersion(h.version) };
        metadata = checkMetadata(metadataFromMessage(h.metadata));
        facts.key = `${header.modelType}/${header.version}`;
        // Authorized on the header, before a byte is stored: the version's place and the blobs'.
        owner = (
          await scope.gate.allow({
            action: "write",
            bucket,
            key: `${header.modelType}/`,
            operation: "models.push",
          })
        ).service;
        await scope.gate.allow({ action: "write", bucket, key: "blobs/", operation: "models.push" });
        // Refused before any byte is stored (as the store's own push does): versions never change.
        if (await published(models, header.modelType, header.version)) {
          throw new StorageError(
            "ALREADY_EXISTS",
            `Version ${header.version} of '${header.modelType}' exists; push a new version.`,
            { field: "version" },
          );
        }
        continue;
      }
      if (message.payload === "header") throw invalid("Only the first PushModel message may carry a header.");
      if (message.payload === "file" && message.file) {
        await finish();
        if (message.file.sha256 !== undefined && !mayReadBlobs) {
          // The store may take a declared sha256 it already holds without reading the bytes: that
          // references a stored blob, as PublishModel does, and needs what PublishModel needs.
          await scope.gate.allow({ action: "read", bucket, key: "blobs/", operation: "models.push" });
          mayReadBlobs = true;
        }
        current = start(message.file, paths, models, owner as string, scope.signal);
        continue;
      }
      if (message.payload !== "chunk")
        throw invalid("A PushModel message after the header carries a file or a chunk.");
      if (!current) throw invalid("A PushModel chunk came before any file header.");
      if (message.chunk && message.chunk.length > 0) await feed(current, message.chunk, scope.signal);
    }
    if (!header) throw invalid("The PushModel stream ended before its header.");
    await finish();
    // As for UploadFile (upload.ts): a client's cancel can arrive a few ticks after a clean-looking
    // end of its stream; publish only once it would have arrived.
    await nextTurn();
    scope.signal.throwIfAborted();
    const version = await models.publish(header.modelType, header.version, files, metadata, owner as string);
    facts.bytes = versionBytes(version);
    facts.details = { files: files.length, deduplicated };
    return versionMessage(version);
  } catch (err) {
    if (current) {
      // The store stops reading (and cleans up) when its body fails.
      current.body.destroy(err instanceof Error ? err : undefined);
      await current.stored.catch(() => {});
    }
    // A cancelled call ends its message stream early: record why, not the stream's complaint.
    throw scope.signal.aborted ? scope.signal.reason : err;
  }
}

async function published(models: ModelStore, modelType: string, version: string): Promise<boolean> {
  try {
    return (await models.get(modelType, version)).version === version;
  } catch (err) {
    if (err instanceof StorageError && err.code === "NOT_FOUND") return false;
    throw err;
  }
}

function start(
  file: ModelFileHeader__Output,
  paths: Set<string>,
  models: ModelStore,
  owner: string,
  signal: AbortSignal,
): Incoming {
  const path = checkFilePath(file.path);
  if (paths.has(path)) {
    throw new StorageError("INVALID_ARGUMENT", `The file '${path}' is pushed twice.`, { field: "path" });
  }
  if (paths.size >= MAX_FILES) {
    throw new StorageError("INVALID_ARGUMENT", `A model version has at most ${MAX_FILES} files.`, {
      field: "files",
    });
  }
  paths.add(path);
  const body = new PassThrough({ highWaterMark: 1024 * 1024 });
  const incoming: Incoming = {
    path,
    body,
    settled: false,
    stored: models.putBlob(
      {
        body,
        path,
        ...(file.size !== undefined ? { size: file.size } : {}),
        ...(file.sha256 !== undefined ? { sha256: checkSha256(file.sha256) } : {}),
      },
      owner,
      signal,
    ),
  };
  incoming.stored.then(
    () => {
      incoming.settled = true;
    },
    () => {
      incoming.settled = true;
    },
  );
  return incoming;
}

/** Writes one chunk, waiting for the store to drain the body (or to answer without reading it). */
async function feed(file: Incoming, chunk: Buffer, signal: AbortSignal): Promise<void> {
  if (file.settled) {
    // A failure surfaces here rather than at the next file header; a stored blob needs no more bytes.
    await file.stored;
    return;
  }
  if (file.body.write(chunk)) return;
  await Promise.race([once(file.body, "drain", { signal }), file.stored]);
}
