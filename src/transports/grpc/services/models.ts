import type { Logger } from "../../../log.ts";
import type { Action, Security } from "../../../security/index.ts";
import {
  checkAlias,
  checkFileList,
  checkMetadata,
  checkModelType,
  checkRef,
  checkSha256,
  checkVersion,
} from "../../../stores/models/names.ts";
import type { ModelStore } from "../../../stores/models/types.ts";
import type { Timestamp__Output } from "../generated/google/protobuf/Timestamp.ts";
import type { ModelStorageServiceHandlers } from "../generated/lumenslate/storage/v1/ModelStorageService.ts";
import type { InFlight } from "./call-scope.ts";
import { send, sendChunks, serverStreaming } from "./download.ts";
import type { CallGate } from "./gate.ts";
import { fileMessage, metadataFromMessage, versionBytes, versionMessage } from "./model-messages.ts";
import { pushModel } from "./model-push.ts";
import { unary } from "./storage-service.ts";

export interface ModelHandlerDeps {
  models: ModelStore;
  /** The model-artifacts bucket (config.buckets.modelArtifacts): where scopes are checked. */
  bucket: string;
  security: Security;
  logger: Logger;
  inFlight: InFlight;
  maxMessageBytes: number;
}

const fromTimestamp = (t: Timestamp__Output): Date => new Date(Number(t.seconds) * 1000 + t.nanos / 1e6);

/**
 * lumenslate.storage.v1.ModelStorageService on the model store (stores/models). Each handler checks
 * the model type's name first (so the scope check looks where the store then would), then
 * authorizes on `{type}/` in the model-artifacts bucket (blobs: `blobs/`; gc: admin on the bucket)
 * before the store is asked anything; every change is audited. Everything else comes from the store.
 */
export function modelStorageHandlers(deps: ModelHandlerDeps): ModelStorageServiceHandlers {
  const { models, bucket } = deps;
  const allow = (gate: CallGate, modelType: string, action: Action, operation: string) =>
    gate.allow({ action, bucket, key: `${checkModelType(modelType)}/`, operation });

  return {
    PushModel: pushModel(deps),

    PublishModel: unary(deps, (req, { gate }) =>
      gate.mutation("models.publish", async (facts) => {
        Object.assign(facts, { bucket, key: `${req.modelType}/${req.version}` });
        const principal = await allow(gate, req.modelType, "write", "models.publish");
        // Naming a stored blob by its sha256 reads it, in effect: the version then serves its bytes.
        await gate.allow({ action: "read", bucket, key: "blobs/", operation: "models.publish" });
        const files = checkFileList(req.files).map((f) => ({ path: f.path, sha256: checkSha256(f.sha256) }));
        const version = await models.publish(
          req.modelType,
          checkVersion(req.version),
          files,
          checkMetadata(metadataFromMessage(req.metadata)),
          principal.service,
        );
        Object.assign(facts, { bytes: versionBytes(version), details: { files: version.files.length } });
        return versionMessage(version);
      }),
    ),

    GetModel: unary(deps, async (req, { gate }) => {
      await allow(gate, req.modelType, "read", "models.get");
      return versionMessage(await models.get(req.modelType, checkRef(req.ref)));
    }),

    DownloadModelFile: serverStreaming(deps, async (call, scope) => {
      const req = call.request;
      await allow(scope.gate, req.modelType, "read", "models.download");
      // The alias is resolved once, so the header names the version whose bytes follow.
      const version = await models.get(req.modelType, checkRef(req.ref));
      const opened = await models.openFile(req.modelType, version.version, req.path, scope.signal);
      try {
        await send(
          call,
          {
            header: {
              modelType: version.modelType,
              version: version.version,
              file: fileMessage(opened.file),
            },
          },
          scope.signal,
        );
        await sendChunks(call, opened.body, deps.maxMessageBytes, scope.signal);
      } finally {
        opened.body.destroy();
      }
      call.end();
    }),

    ListModels: unary(deps, async (req, { gate }) => {
      // Without a type: a listing across types, which a key scoped to one type's prefix lacks.
      if (req.modelType) await allow(gate, req.modelType, "list", "models.list");
      else await gate.allow({ action: "list", bucket, operation: "models.list" });
      const page = await models.list({
        ...(req.modelType ? { modelType: req.modelType } : {}),
        ...(req.tag ? { tag: req.tag } : {}),
        ...(req.metadataKey ? { metadata: { key: req.metadataKey, value: req.metadataValue } } : {}),
        ...(req.createdAfter ? { createdAfter: fromTimestamp(req.createdAfter) } : {}),
        ...(req.pageToken ? { cursor: req.pageToken } : {}),
        ...(req.pageSize > 0 ? { limit: req.pageSize } : {}),
      });
      return { versions: page.versions.map(versionMessage), nextPageToken: page.nextCursor ?? "" };
    }),

    DeleteModelVersion: unary(deps, (req, { gate }) =>
      gate.mutation("models.delete", async (facts) => {
        Object.assign(facts, {
          bucket,
          key: `${req.modelType}/${req.version}`,
          details: { force: req.force },
        });
        await allow(gate, req.modelType, "delete", "models.delete");
        await models.deleteVersion(req.modelType, checkVersion(req.version), { force: req.force });
        return { modelType: req.modelType, version: req.version };
      }),
    ),

    SetModelAlias: unary(deps, (req, { gate }) =>
      gate.mutation("models.alias-set", async (facts) => {
        Object.assign(facts, {
          bucket,
          key: `${req.modelType}/aliases/${req.alias}`,
          details: { version: req.version },
        });
        await allow(gate, req.modelType, "write", "models.alias-set");
        await models.setAlias(req.modelType, checkAlias(req.alias), checkVersion(req.version));
        return { modelType: req.modelType, alias: req.alias, version: req.version };
      }),
    ),

    DeleteModelAlias: unary(deps, (req, { gate }) =>
      gate.mutation("models.alias-remove", async (facts) => {
        Object.assign(facts, { bucket, key: `${req.modelType}/aliases/${req.alias}` });
        await allow(gate, req.modelType, "write", "models.alias-remove");
        await models.removeAlias(req.modelType, checkAlias(req.alias));
        return { modelType: req.modelType, alias: req.alias };
      }),
    ),

    CollectGarbage: unary(deps, async (req, { gate }) => {
      const collect = async () => {
        const report = await models.gc({
          dryRun: req.dryRun,
          ...(req.graceSeconds !== undefined ? { graceSeconds: req.graceSeconds } : {}),
        });
        return { dryRun: req.dryRun, blobs: report.blobs, bytes: report.bytes, keys: report.keys };
      };
      const admit = () => gate.allow({ action: "admin", bucket, operation: "models.gc" });
      // A dry run changes nothing: no audit record, like a read (as SweepTemp).
      if (req.dryRun) {
        await admit();
        return collect();
      }
      return gate.mutation("models.gc", async (facts) => {
        Object.assign(facts, { bucket, key: "blobs/" });
        await admit();
        const report = await collect();
        Object.assign(facts, { bytes: report.bytes, details: { blobs: report.blobs } });
        return report;
      });
    }),
  };
}
