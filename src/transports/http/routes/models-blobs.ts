import type { FastifyInstance } from "fastify";
import type { ZodTypeProvider } from "fastify-type-provider-zod";
import { z } from "zod";
import type { AppContext } from "../../../app.ts";
import { StorageError } from "../../../errors.ts";
import { noteAudit, ownerOf, skipAudit } from "../access.ts";
import { disconnectSignal } from "../disconnect.ts";
import { CHECKSUM_HEADER } from "../headers.ts";
import { lingerAfterResponse } from "../linger.ts";
import { uploadBody } from "../request-body.ts";
import { binaryBody, problemResponses } from "../schemas.ts";
import { blobTarget, MODELS_TAG, StoredBlobSchema } from "./models-schemas.ts";

/**
 * POST /v1/models/blobs: one file's bytes, streamed into the model store, which names them by
 * their sha256. With x-checksum-sha256 of a blob that is stored already the answer comes before
 * the body is read (200, deduplicated; the connection then closes, lingering, see linger.ts), so
 * a client that announces its digest never sends known weights twice. Announcing one needs `read`
 * on `blobs/` too, as publishing a version does: knowing a hash must not grant its blob. A scope of its own whose
 * only content-type parser hands the request stream through untouched.
 */
export async function registerModelBlobRoute(fastify: FastifyInstance, app: AppContext): Promise<void> {
  const bucket = app.config.buckets.modelArtifacts;
  fastify.removeAllContentTypeParsers();
  fastify.addContentTypeParser("*", (_request, payload, done) => done(null, payload));

  fastify.withTypeProvider<ZodTypeProvider>().route({
    method: "POST",
    url: "/v1/models/blobs",
    config: {
      access: {
        operation: "models.blob-upload",
        audited: true,
        // A declared digest may be answered with the stored blob (deduplicated): that references a
        // blob, as publishing does, and needs what publishing needs (knowing a hash grants nothing).
        url: (request) => [
          ...blobTarget(bucket, "write")(),
          ...(request.headers[CHECKSUM_HEADER] !== undefined ? blobTarget(bucket, "read")() : []),
        ],
      },
    },
    schema: {
      tags: [MODELS_TAG],
      summary: "Upload one file's bytes as a content-addressed blob (streamed)",
      description:
        "Stored at `blobs/sha256/<sha256 of the content>`, compressed when MODEL_STORAGE_COMPRESSION is " +
        "on and it pays. Send `x-checksum-sha256` (hex) to skip the upload when the blob is stored " +
        "already (200, `deduplicated`; needs `read` on `blobs/` too; a Content-Length other than the " +
        "stored blob's size is 412), and so that a body with another digest is refused (412) with " +
        "nothing stored. `path` (the file's name in its version) lets the store skip compressing " +
        "formats that are compressed already. Name the blob in a version with PUT /v1/models/{type}/{version}.",
      querystring: z.object({
        path: z.string().optional().describe("The file's path in its version, e.g. model.safetensors."),
      }),
      headers: z.looseObject({
        [CHECKSUM_HEADER]: z.string().optional().describe("Hex sha256 of the body."),
        "content-length": z.string().optional().describe("The body's size (checked)."),
      }),
      consumes: ["*/*"],
      streamedBody: binaryBody("The file's bytes"),
      response: { 200: StoredBlobSchema, 201: StoredBlobSchema, ...problemResponses },
    },
    handler: async (request, reply) => {
      const sha256 = request.headers[CHECKSUM_HEADER];
      const length = request.headers["content-length"];
      if (sha256 !== undefined && typeof sha256 !== "string") {
        throw new StorageError("INVALID_ARGUMENT", `Send ${CHECKSUM_HEADER} once.`, { field: "sha256" });
      }
      if (sha256) {
        const known = await app.models.hasBlob(sha256);
        if (known && length !== undefined && /^\d+$/.test(length) && Number(length) !== known.size) {
          throw new StorageError(
            "PRECONDITION_FAILED",
            `The blob ${sha256.toLowerCase()} is stored with ${known.size} bytes, not the declared ${length}: check the file and its sha256.`,
            { field: "size", size: Number(length), sha256: sha256.toLowerCase() },
          );
        }
        if (known) {
          skipAudit(request);
          if (!request.raw.complete) {
            reply.header("connection", "close");
            lingerAfterResponse(request.raw);
          }
          return reply.code(200).send({ sha256: sha256.toLowerCase(), ...known, deduplicated: true });
        }
      }
      const blob = await app.models.putBlob(
        {
          body: uploadBody(request),
          path: request.query.path ?? "blob",
          ...(sha256 ? { sha256 } : {}),
          ...(length !== undefined && /^\d+$/.test(length) ? { size: Number(length) } : {}),
        },
        ownerOf(request),
        disconnectSignal(reply),
      );
      noteAudit(request, {
        key: `blobs/sha256/${blob.sha256}`,
        bytes: blob.deduplicated ? 0 : blob.storedSize,
      });
      return reply.code(blob.deduplicated ? 200 : 201).send(blob);
    },
  });
}
