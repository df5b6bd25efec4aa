import type { FastifyInstance, FastifyRequest } from "fastify";
import type { ZodTypeProvider } from "fastify-type-provider-zod";
import { z } from "zod";
import type { AppContext } from "../../../app.ts";
import type { UploadSession } from "../../../core/upload-sessions.ts";
import { normaliseKey, noteAudit, ownerOf } from "../access.ts";
import { bindingsOf, principalOf } from "../auth.ts";
import { disconnectSignal } from "../disconnect.ts";
import { ObjectInfoSchema, objectJson, problemResponses } from "../schemas.ts";

const hex64 = z.string().regex(/^[0-9a-fA-F]{64}$/, "64 hex characters");

/** A session's part size, as the core checks it (sessions for objects and for model blobs alike). */
export const PartSizeField = z
  .number()
  .int()
  .optional()
  .describe(
    "Bytes per part, 5 MiB to 5 GiB (default STORAGE_MULTIPART_PART_SIZE, grown to fit 10,000 parts).",
  );

const CreateBody = z.object({
  bucket: z.string(),
  key: z.string(),
  size: z
    .number()
    .int()
    .nonnegative()
    .describe("The whole object's size in bytes (checked against the bucket's limit)."),
  sha256: hex64.describe("Hex sha256 of the whole object, verified when the session completes."),
  contentType: z.string().optional(),
  metadata: z.record(z.string(), z.string()).optional(),
  partSize: PartSizeField,
});

export const SessionSchema = z
  .object({
    id: z.string(),
    bucket: z.string(),
    key: z.string(),
    size: z.number().int(),
    sha256: z.string(),
    partSize: z.number().int(),
    partCount: z.number().int(),
    contentType: z.string(),
    metadata: z.record(z.string(), z.string()),
    createdAt: z.string(),
    expiresAt: z.string(),
    state: z.enum(["open", "completed", "aborted"]),
  })
  .meta({ id: "UploadSession" });

const StatusSchema = SessionSchema.extend({
  parts: z
    .array(z.object({ partNumber: z.number().int(), size: z.number().int(), etag: z.string() }))
    .describe("Parts the object store holds: after a dropped connection, upload only the others."),
});

const PartsBody = z.object({
  parts: z
    .array(
      z.object({
        partNumber: z.number().int(),
        sha256: hex64
          .optional()
          .describe("Hex sha256 of the part: required, signed into the URL and checked by the store."),
      }),
    )
    .min(1)
    .max(1000),
});

const PartUrlsSchema = z.object({
  parts: z.array(
    z.object({
      partNumber: z.number().int(),
      url: z.string(),
      method: z.literal("PUT"),
      headers: z.record(z.string(), z.string()).describe("Send exactly these headers with the part's bytes."),
      expiresAt: z.string(),
    }),
  ),
});

const IdParams = z.object({ id: z.string() });

export const sessionJson = (s: UploadSession) => ({
  id: s.id,
  bucket: s.bucket,
  key: s.key,
  size: s.size,
  sha256: s.sha256,
  partSize: s.partSize,
  partCount: s.partCount,
  contentType: s.contentType,
  metadata: s.metadata,
  createdAt: s.createdAt.toISOString(),
  expiresAt: s.expiresAt.toISOString(),
  state: s.state,
});

/**
 * Resumable upload sessions (core/upload-sessions.ts): the client PUTs parts straight to the object
 * store with URLs the service signs, then has the service complete (verify and index) the object.
 * Creating one needs `write` at the key, like an upload; a session is then its owner's alone, and
 * each later call checks `write` at the session's key again (the key's scopes may have changed).
 */
export function registerUploadSessionRoutes(fastify: FastifyInstance, app: AppContext): void {
  const f = fastify.withTypeProvider<ZodTypeProvider>();
  const sessions = app.service.sessions;

  /** The caller's session, after checking it may still write at the session's key. */
  const ownSession = async (request: FastifyRequest, id: string) => {
    const session = await sessions.get(id, ownerOf(request));
    noteAudit(request, { bucket: session.bucket, key: session.key, details: { session: session.id } });
    app.security.authorize(principalOf(request), "write", session.bucket, session.key, bindingsOf(request));
    return session;
  };

  f.route({
    method: "POST",
    url: "/v1/uploads",
    config: {
      access: {
        operation: "upload-session-create",
        audited: true,
        body: (request) => {
          const { bucket, key } = request.body as z.output<typeof CreateBody>;
          return [{ action: "write", bucket, key: normaliseKey(key) }];
        },
      },
    },
    schema: {
      tags: ["uploads"],
      summary: "Open a resumable upload session (parts go straight to the object store)",
      errors: ["TOO_LARGE", "UNSUPPORTED_TYPE", "UNSUPPORTED_OPERATION"],
      body: CreateBody,
      response: { 201: SessionSchema, ...problemResponses },
    },
    handler: async (request, reply) => {
      const body = request.body;
      const session = await sessions.create({
        bucket: body.bucket,
        key: body.key,
        size: body.size,
        sha256: body.sha256,
        owner: ownerOf(request),
        ...(body.contentType ? { contentType: body.contentType } : {}),
        ...(body.metadata ? { metadata: body.metadata } : {}),
        ...(body.partSize !== undefined ? { partSize: body.partSize } : {}),
      });
      noteAudit(request, { details: { session: session.id, size: session.size } });
      return reply.code(201).header("location", `/v1/uploads/${session.id}`).send(sessionJson(session));
    },
  });

  f.route({
    method: "POST",
    url: "/v1/uploads/:id/parts",
    config: { access: { operation: "upload-session-parts", audited: true } },
    schema: {
      tags: ["uploads"],
      summary: "Presigned URLs for parts of an open session, each with its sha256 signed in",
      params: IdParams,
      body: PartsBody,
      response: { 200: PartUrlsSchema, ...problemResponses },
    },
    handler: async (request) => {
      const session = await ownSession(request, request.params.id);
      const urls = await sessions.partUrls(session.id, ownerOf(request), request.body.parts);
      return { parts: urls.map((u) => ({ ...u, expiresAt: u.expiresAt.toISOString() })) };
    },
  });

  f.route({
    method: "GET",
    url: "/v1/uploads/:id",
    config: { access: { operation: "upload-session-status", audited: false } },
    schema: {
      tags: ["uploads"],
      summary: "A session and the parts the object store holds",
      params: IdParams,
      response: { 200: StatusSchema, ...problemResponses },
    },
    handler: async (request) => {
      const session = await ownSession(request, request.params.id);
      const status = await sessions.status(session.id, ownerOf(request));
      return { ...sessionJson(status), parts: status.parts };
    },
  });

  f.route({
    method: "POST",
    url: "/v1/uploads/:id/complete",
    config: { access: { operation: "upload-session-complete", audited: true } },
    schema: {
      tags: ["uploads"],
      summary: "Complete a session: every part present, the whole sha256 verified, then indexed",
      description:
        "Idempotent: completing a completed session answers the same object. A sha256 or size " +
        "mismatch removes the object and aborts the session (412).",
      params: IdParams,
      response: { 200: ObjectInfoSchema, ...problemResponses },
    },
    handler: async (request, reply) => {
      const session = await ownSession(request, request.params.id);
      const info = await sessions.complete(session.id, ownerOf(request), disconnectSignal(reply));
      noteAudit(request, { versionId: info.versionId, bytes: info.size });
      return objectJson(info);
    },
  });

  f.route({
    method: "DELETE",
    url: "/v1/uploads/:id",
    config: { access: { operation: "upload-session-abort", audited: true } },
    schema: {
      tags: ["uploads"],
      summary: "Abort a session and drop its parts",
      params: IdParams,
      response: { 204: z.undefined().describe("Aborted."), ...problemResponses },
    },
    handler: async (request, reply) => {
      const session = await ownSession(request, request.params.id);
      await sessions.abort(session.id, ownerOf(request));
      return reply.code(204).send();
    },
  });
}
