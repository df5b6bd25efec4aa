import type { UploadSession, UploadSessions } from "../../../core/upload-sessions.ts";
import type { Logger } from "../../../log.ts";
import type { Security } from "../../../security/index.ts";
import type { UploadSession as UploadSessionMessage } from "../generated/lumenslate/storage/v1/UploadSession.ts";
import type { UploadSessionServiceHandlers } from "../generated/lumenslate/storage/v1/UploadSessionService.ts";
import type { InFlight } from "./call-scope.ts";
import { fileInfo, timestamp } from "./convert.ts";
import type { CallGate } from "./gate.ts";
import { unary } from "./storage-service.ts";

export interface UploadSessionHandlerDeps {
  sessions: UploadSessions;
  security: Security;
  logger: Logger;
  inFlight: InFlight;
}

const sessionMessage = (s: UploadSession): UploadSessionMessage => ({
  id: s.id,
  bucket: s.bucket,
  objectName: s.key,
  size: s.size,
  sha256: s.sha256,
  partSize: s.partSize,
  partCount: s.partCount,
  contentType: s.contentType,
  metadata: s.metadata,
  createdAt: timestamp(s.createdAt),
  expiresAt: timestamp(s.expiresAt),
  state: s.state,
});

/**
 * lumenslate.storage.v1.UploadSessionService on the core's upload sessions, as /v1/uploads over
 * HTTP. Creating needs `write` at the key before the store is touched; the other calls find the
 * caller's own session (another service's is NOT_FOUND) and check `write` at its key again.
 */
export function uploadSessionHandlers(deps: UploadSessionHandlerDeps): UploadSessionServiceHandlers {
  const { sessions } = deps;

  /** Authenticates, finds the caller's session, then authorizes `write` at its key. */
  const ownSession = async (gate: CallGate, id: string, operation: string) => {
    const caller = await gate.allow({ action: [], operation });
    const session = await sessions.get(id, caller.service);
    await gate.allow({ action: "write", bucket: session.bucket, key: session.key, operation });
    return { session, owner: caller.service };
  };

  return {
    CreateUploadSession: unary(deps, async (req, { gate }) => {
      const principal = await gate.allow({
        action: "write",
        bucket: req.bucket,
        key: req.objectName.normalize("NFC"),
        operation: "upload-session-create",
      });
      return gate.mutation("upload-session-create", async (facts) => {
        facts.bucket = req.bucket;
        facts.key = req.objectName;
        const session = await sessions.create({
          bucket: req.bucket,
          key: req.objectName,
          size: req.size,
          sha256: req.sha256,
          owner: principal.service,
          ...(req.contentType ? { contentType: req.contentType } : {}),
          metadata: req.metadata,
          ...(req.partSize !== undefined ? { partSize: req.partSize } : {}),
        });
        facts.details = { session: session.id, size: session.size };
        return sessionMessage(session);
      });
    }),

    GetUploadPartUrls: unary(deps, async (req, { gate }) => {
      const { session, owner } = await ownSession(gate, req.id, "upload-session-parts");
      return gate.mutation("upload-session-parts", async (facts) => {
        facts.bucket = session.bucket;
        facts.key = session.key;
        facts.details = { session: session.id };
        const urls = await sessions.partUrls(
          session.id,
          owner,
          req.parts.map((p) => ({ partNumber: p.partNumber, ...(p.sha256 ? { sha256: p.sha256 } : {}) })),
        );
        return {
          parts: urls.map((u) => ({
            partNumber: u.partNumber,
            url: u.url,
            method: u.method,
            headers: u.headers,
            expiresAt: timestamp(u.expiresAt),
          })),
        };
      });
    }),

    GetUploadSession: unary(deps, async (req, { gate }) => {
      const { session, owner } = await ownSession(gate, req.id, "upload-session-status");
      const status = await sessions.status(session.id, owner);
      return { session: sessionMessage(status), parts: status.parts };
    }),

    CompleteUploadSession: unary(deps, async (req, { gate }) => {
      const { session, owner } = await ownSession(gate, req.id, "upload-session-complete");
      return gate.mutation("upload-session-complete", async (facts) => {
        facts.bucket = session.bucket;
        facts.key = session.key;
        facts.details = { session: session.id };
        const info = await sessions.complete(session.id, owner);
        facts.versionId = info.versionId;
        facts.bytes = info.size;
        return fileInfo(info);
      });
    }),

    AbortUploadSession: unary(deps, async (req, { gate }) => {
      const { session, owner } = await ownSession(gate, req.id, "upload-session-abort");
      return gate.mutation("upload-session-abort", async (facts) => {
        facts.bucket = session.bucket;
        facts.key = session.key;
        facts.details = { session: session.id };
        await sessions.abort(session.id, owner);
        return {};
      });
    }),
  };
}
