import type { handleClientStreamingCall } from "@grpc/grpc-js";
import { StorageError } from "../../../errors.ts";
import type { Logger } from "../../../log.ts";
import type { Security } from "../../../security/index.ts";
import type { ProtoRegistry, ProtoVersion, PublishRequest } from "../../../stores/proto/types.ts";
import { checkService } from "../../../stores/proto/validate.ts";
import type { GeneratedCodeHeader__Output } from "../generated/lumenslate/storage/v1/GeneratedCodeHeader.ts";
import type { ProtoStorageServiceHandlers } from "../generated/lumenslate/storage/v1/ProtoStorageService.ts";
import type { ProtoVersion as ProtoVersionMessage } from "../generated/lumenslate/storage/v1/ProtoVersion.ts";
import type { UploadGeneratedCodeRequest__Output } from "../generated/lumenslate/storage/v1/UploadGeneratedCodeRequest.ts";
import type { UploadGeneratedCodeResponse } from "../generated/lumenslate/storage/v1/UploadGeneratedCodeResponse.ts";
import type { InFlight } from "./call-scope.ts";
import { timestamp } from "./convert.ts";
import { send, sendChunks, serverStreaming } from "./download.ts";
import type { CallGate } from "./gate.ts";
import { unary } from "./storage-service.ts";
import { serveUpload } from "./upload.ts";

export interface ProtoHandlerDeps {
  protos: ProtoRegistry;
  security: Security;
  logger: Logger;
  inFlight: InFlight;
  maxMessageBytes: number;
  /** Where the registry keeps sources (scopes are checked there) and uploaded generated code. */
  buckets: { protoFiles: string; grpcServices: string };
}

const LANGUAGES: ReadonlySet<string> = new Set(["typescript", "python"]);

/**
 * The key prefix a scope must cover: `{service}/`. The name is checked first, so the scope check
 * looks exactly where the registry then would (a name with a slash would aim it elsewhere).
 */
const servicePrefix = (service: string): string => `${checkService(service)}/`;

function languages(requested: readonly string[]): PublishRequest["generate"] {
  for (const language of requested) {
    if (!LANGUAGES.has(language)) {
      throw new StorageError(
        "INVALID_ARGUMENT",
        `Cannot generate '${language.slice(0, 40)}': choose from ${[...LANGUAGES].join(", ")}.`,
        { field: "generate" },
      );
    }
  }
  return requested as PublishRequest["generate"];
}

export const versionMessage = (v: ProtoVersion): ProtoVersionMessage => ({
  service: v.service,
  version: v.version,
  createdAt: timestamp(v.createdAt),
  digest: v.digest,
  uploader: v.uploader,
  files: v.files,
  breakingOverridden: v.breakingOverridden,
  breakingViolations: v.breakingViolations,
  generated: v.generated.map((g) => ({
    language: g.language,
    ok: g.ok,
    files: g.files,
    ...(g.error === undefined ? {} : { error: g.error }),
  })),
});

/**
 * lumenslate.storage.v1.ProtoStorageService on the proto registry (stores/proto). Each handler
 * authorizes on the request's service before the registry is asked anything (scopes on the
 * proto-files bucket at `{service}/`); the uploads are audited. Validation, compilation, the
 * breaking-change check and every error code come from the registry.
 */
export function protoStorageHandlers(deps: ProtoHandlerDeps): ProtoStorageServiceHandlers {
  const { protos, buckets } = deps;
  const read = (gate: CallGate, service: string, operation: string) =>
    gate.allow({ action: "read", bucket: buckets.protoFiles, key: servicePrefix(service), operation });

  return {
    UploadProtoFile: unary(deps, (req, { gate }) =>
      gate.mutation("protos.publish", async (facts) => {
        Object.assign(facts, {
          bucket: buckets.protoFiles,
          key: `${req.service}/${req.version}/`,
          details: { files: req.files.length, allowBreaking: req.allowBreaking },
        });
        const principal = await gate.allow({
          action: "write",
          bucket: buckets.protoFiles,
          key: servicePrefix(req.service),
          operation: "protos.publish",
        });
        const generate = req.generate.length > 0 ? languages(req.generate) : undefined;
        const result = await protos.publish({
          service: req.service,
          version: req.version,
          files: req.files.map((f) => ({ filename: f.filename, content: f.content })),
          allowBreaking: req.allowBreaking,
          uploader: principal.service,
          ...(generate ? { generate } : {}),
        });
        const { version } = result;
        facts.bytes = version.files.reduce((n, f) => n + f.size, 0);
        facts.details = {
          files: version.files.length,
          digest: version.digest,
          created: result.created,
          breakingOverridden: version.breakingOverridden,
        };
        return { version: versionMessage(version), created: result.created };
      }),
    ),

    UploadGeneratedCode: uploadGeneratedCode(deps),

    GetProtoVersions: unary(deps, async (req, { gate }) => {
      await read(gate, req.service, "protos.versions");
      return { versions: (await protos.versions(req.service)).map(versionMessage) };
    }),

    DownloadProtoFile: serverStreaming(deps, async (call, scope) => {
      const req = call.request;
      await read(scope.gate, req.service, "protos.file");
      // Resolved first, so the header names the version served even when `latest` moves meanwhile.
      const version = await protos.resolve(req.service, req.version);
      const { info, body } = await protos.downloadFile(req.service, version.version, req.filename);
      try {
        await send(
          call,
          { header: { service: req.service, version: version.version, file: info } },
          scope.signal,
        );
        await sendChunks(call, body, deps.maxMessageBytes, scope.signal);
      } finally {
        body.destroy();
      }
      call.end();
    }),

    DownloadProtoArchive: serverStreaming(deps, async (call, scope) => {
      const req = call.request;
      await read(scope.gate, req.service, "protos.archive");
      const version = await protos.resolve(req.service, req.version);
      const body = await protos.downloadTarball(req.service, version.version);
      try {
        const header = {
          service: req.service,
          version: version.version,
          digest: version.digest,
          filename: `${req.service}-${version.version}.tar.gz`,
        };
        await send(call, { header }, scope.signal);
        await sendChunks(call, body, deps.maxMessageBytes, scope.signal);
      } finally {
        body.destroy();
      }
      call.end();
    }),

    DiffProtoVersions: unary(deps, async (req, { gate }) => {
      await read(gate, req.service, "protos.diff");
      return protos.diff(req.service, req.from, req.to);
    }),

    GetProtoDefinitions: unary(deps, async (req, { gate }) => {
      await read(gate, req.service, "protos.definitions");
      const version = await protos.resolve(req.service, req.version);
      return { version: version.version, ...(await protos.definitions(req.service, version.version)) };
    }),

    ListProtoServices: unary(deps, async (_req, { gate }) => {
      // Every service's name: a listing of the whole bucket, which a key scoped to one prefix lacks.
      await gate.allow({ action: "list", bucket: buckets.protoFiles, operation: "protos.services" });
      return { services: await protos.services() };
    }),
  };
}

/** Header, then chunks (as UploadFile); stored as is, attributed to the calling key's service. */
function uploadGeneratedCode(
  deps: ProtoHandlerDeps,
): handleClientStreamingCall<UploadGeneratedCodeRequest__Output, UploadGeneratedCodeResponse> {
  const operation = "protos.generated";
  return (...call) =>
    serveUpload<GeneratedCodeHeader__Output, UploadGeneratedCodeRequest__Output, UploadGeneratedCodeResponse>(
      deps,
      call,
      {
        method: "UploadGeneratedCode",
        operation,
        audit: (header, facts) => {
          Object.assign(facts, {
            bucket: deps.buckets.grpcServices,
            key: `${header.service}/${header.version}/${header.language}/${header.filename}`,
          });
        },
        store: async (header, decoder, scope, facts) => {
          // Authorized on the header, before the registry sees a byte: a refused upload writes nothing.
          const principal = await scope.gate.allow({
            action: "write",
            bucket: deps.buckets.grpcServices,
            key: servicePrefix(header.service),
            operation,
          });
          const stored = await deps.protos.uploadGenerated({
            service: header.service,
            version: header.version,
            language: header.language,
            filename: header.filename,
            body: decoder,
            uploader: principal.service,
          });
          Object.assign(facts, { key: stored.key, bytes: stored.size, details: { sha256: stored.sha256 } });
          return { bucket: stored.bucket, objectName: stored.key, size: stored.size, sha256: stored.sha256 };
        },
      },
    );
}
