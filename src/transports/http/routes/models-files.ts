import type { FastifyInstance, FastifyReply } from "fastify";
import type { ZodTypeProvider } from "fastify-type-provider-zod";
import { z } from "zod";
import type { AppContext } from "../../../app.ts";
import { disconnectSignal } from "../disconnect.ts";
import { baseName, CHECKSUM_HEADER, contentDisposition } from "../headers.ts";
import { problemResponses } from "../schemas.ts";
import { MODELS_TAG, typeTarget } from "./models-schemas.ts";

/**
 * GET /v1/models/{type}/{ref}/files/{path}: one file of a version, decompressed and verified while
 * it streams. The sha256 travels as the ETag, as `Digest` (RFC 3230) and `Repr-Digest` (RFC 9530),
 * and as x-checksum-sha256. A file whose stored bytes fail the check is cut off before its last
 * bytes: the client sees a body shorter than Content-Length and a reset, never a clean 200.
 */
export function registerModelFileRoute(fastify: FastifyInstance, app: AppContext): void {
  const bucket = app.config.buckets.modelArtifacts;
  fastify.withTypeProvider<ZodTypeProvider>().route({
    method: "GET",
    url: "/v1/models/:type/:ref/files/*",
    // No derived HEAD: it would open the blob to send headers only (the manifest has them all).
    exposeHeadRoute: false,
    config: { access: { operation: "models.download", audited: false, url: typeTarget(bucket, "read") } },
    schema: {
      tags: [MODELS_TAG],
      summary: "Download one file of a version (by version, alias or `latest`), verified as it streams",
      description:
        "The file's path follows `files/`, each segment percent-encoded. `If-None-Match` with the ETag " +
        "(the sha256) answers 304. A stored blob that fails its sha256 check cuts the response short.",
      params: z.object({
        type: z.string(),
        ref: z.string().describe("A version, a named alias or `latest`."),
        "*": z.string().describe("The file's path in the version."),
      }),
      errors: ["DATA_CORRUPTED"],
      response: {
        200: {
          description: "The file's bytes",
          content: { "application/octet-stream": { schema: z.string() } },
        },
        304: z.undefined().describe("Not modified: the caller has this content (same sha256)"),
        ...problemResponses,
      },
    },
    handler: async (request, reply) => {
      const { type, ref } = request.params;
      const path = request.params["*"];
      const version = await app.models.get(type, ref);
      const listed = version.files.find((f) => f.path === path.normalize("NFC"));
      const etag = listed ? `"${listed.sha256}"` : undefined;
      if (etag && request.headers["if-none-match"]?.split(",").some((t) => t.trim() === etag)) {
        return reply.header("etag", etag).code(304).send();
      }
      // Resolved again by version name, so a moving alias cannot swap the file between the two reads.
      const { file, body } = await app.models.openFile(type, version.version, path, disconnectSignal(reply));
      const digest = Buffer.from(file.sha256, "hex").toString("base64");
      reply.type("application/octet-stream").headers({
        etag: `"${file.sha256}"`,
        digest: `sha-256=${digest}`,
        "repr-digest": `sha-256=:${digest}:`,
        [CHECKSUM_HEADER]: file.sha256,
        "x-model-version": version.version,
        "content-length": String(file.size),
        "content-disposition": contentDisposition(baseName(file.path)),
      });
      return (reply as FastifyReply).send(body);
    },
  });
}
