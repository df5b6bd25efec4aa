import type { FastifyInstance } from "fastify";
import type { ZodTypeProvider } from "fastify-type-provider-zod";
import { z } from "zod";
import type { AppContext } from "../../../app.ts";
import { noteAudit, ownerOf, skipAudit } from "../access.ts";
import { problemResponses } from "../schemas.ts";
import { MODELS_TAG, StoredBlobSchema } from "./models-schemas.ts";
import { PartSizeField, SessionSchema, sessionJson } from "./upload-sessions.ts";

const SessionBody = z.object({
  sha256: z
    .string()
    .regex(/^[0-9a-fA-F]{64}$/, "64 hex characters")
    .describe("Hex sha256 of the file: the blob's name, verified when the session completes."),
  size: z
    .number()
    .int()
    .nonnegative()
    .describe("The file's size in bytes (checked against the model bucket's limit)."),
  path: z.string().describe("The file's path in its version, e.g. `model.safetensors`."),
  partSize: PartSizeField,
});

/**
 * POST /v1/models/blobs/uploads: a resumable upload session (core/upload-sessions.ts) for one large
 * file, opened at `blobs/sha256/<hex>` in the model bucket, so a client need not know the bucket or
 * the blob layout; the parts, status, completion and abort are then /v1/uploads/{id}/... as for any
 * session. Declaring a digest references a blob, so the call needs `read` on `blobs/` as well as
 * `write` (knowing a hash must not grant a blob): a blob stored already is answered instead (200).
 */
export function registerModelSessionRoute(fastify: FastifyInstance, app: AppContext): void {
  const bucket = app.config.buckets.modelArtifacts;
  fastify.withTypeProvider<ZodTypeProvider>().route({
    method: "POST",
    url: "/v1/models/blobs/uploads",
    config: {
      access: {
        operation: "models.blob-session",
        audited: true,
        url: () => [{ action: ["write", "read"], bucket, key: "blobs/" }],
      },
    },
    schema: {
      tags: [MODELS_TAG],
      summary: "Open a resumable upload session for one large file's blob (or get the blob if stored)",
      description:
        "201: an upload session to `blobs/sha256/<sha256>` in the model bucket: ask `POST " +
        "/v1/uploads/{id}/parts` for part URLs, PUT the parts straight to the object store, `GET " +
        "/v1/uploads/{id}` lists the parts it holds after a dropped connection, `POST " +
        "/v1/uploads/{id}/complete` verifies the whole sha256 (and the content) and stores the blob; then " +
        "name it in PUT /v1/models/{type}/{version}. 200: the blob is stored already (`deduplicated`); a " +
        "stored blob of another size is 412. S3 backends only (the local backend answers 501: upload " +
        "through POST /v1/models/blobs).",
      errors: ["TOO_LARGE", "UNSUPPORTED_OPERATION"],
      body: SessionBody,
      response: { 200: StoredBlobSchema, 201: SessionSchema, ...problemResponses },
    },
    handler: async (request, reply) => {
      const { sha256, size, path, partSize } = request.body;
      const opened = await app.models.openBlobSession(
        { sha256, size, path, ...(partSize !== undefined ? { partSize } : {}) },
        ownerOf(request),
      );
      if ("blob" in opened) {
        skipAudit(request);
        return reply.code(200).send(opened.blob);
      }
      const { session } = opened;
      noteAudit(request, { key: session.key, details: { session: session.id, size: session.size, path } });
      return reply.code(201).header("location", `/v1/uploads/${session.id}`).send(sessionJson(session));
    },
  });
}
