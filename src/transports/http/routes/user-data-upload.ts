import type { FastifyInstance } from "fastify";
import type { ZodTypeProvider } from "fastify-type-provider-zod";
import { z } from "zod";
import type { AppContext } from "../../../app.ts";
import { StorageError } from "../../../errors.ts";
import { noteAudit, ownerOf } from "../access.ts";
import { disconnectSignal } from "../disconnect.ts";
import { uploadBody } from "../request-body.ts";
import { binaryBody, problemResponses } from "../schemas.ts";
import { USER_DATA_TAG, UserFileSchema, UserParams, userFileJson, userTarget } from "./user-data-schemas.ts";

/** One stream per upload: 1 MiB of buffering between the socket and the core. */

/**
 * POST /v1/users/:userId/files/:filename: the raw body streamed into the user-data store, which
 * reserves Content-Length against the user's quota before a byte is read. A scope of its own whose
 * only content-type parser hands the request stream through untouched (as object-upload.ts).
 */
export async function registerUserDataUploadRoute(fastify: FastifyInstance, app: AppContext): Promise<void> {
  fastify.removeAllContentTypeParsers();
  fastify.addContentTypeParser("*", (_request, payload, done) => done(null, payload));

  fastify.withTypeProvider<ZodTypeProvider>().route({
    method: "POST",
    url: "/v1/users/:userId/files/:filename",
    config: {
      access: {
        operation: "users.upload",
        audited: true,
        url: userTarget(app.config.buckets.userData, "write"),
      },
    },
    schema: {
      tags: [USER_DATA_TAG],
      summary: "Upload a user's file from the raw request body (streamed, within the user's quota)",
      description:
        "Stored at `users/{userId}/{uploadId}/{filename}` with a new upload id. Content-Length is " +
        "required: it is reserved against the user's quota (bytes and files) before the body is read, " +
        "and a body of another length is refused (412). Over the quota: 413 TOO_LARGE with " +
        "`details.quota` (bytes or objects), `remainingBytes` and `remainingObjects`, and nothing is " +
        "stored. Extension, content (magic bytes) and size rules apply as to any upload.",
      params: UserParams.extend({ filename: z.string().describe("The file's name (one path segment).") }),
      headers: z.looseObject({
        "content-length": z.string().optional().describe("Required: the body's size in bytes."),
        "content-type": z
          .string()
          .optional()
          .describe("Kept as the file's type (checked against the content)."),
      }),
      consumes: ["*/*"],
      streamedBody: binaryBody("The file's bytes"),
      response: { 201: UserFileSchema, ...problemResponses },
    },
    handler: async (request, reply) => {
      const { userId, filename } = request.params;
      const length = request.headers["content-length"];
      if (length === undefined || !/^\d+$/.test(length)) {
        throw new StorageError(
          "INVALID_ARGUMENT",
          "An upload needs a Content-Length: the quota is judged before the body is read.",
          { field: "content-length" },
        );
      }
      const body = uploadBody(request);
      const file = await app.userData.upload({
        userId,
        filename,
        body,
        size: Number(length),
        contentType: request.headers["content-type"],
        owner: ownerOf(request),
        signal: disconnectSignal(reply),
      });
      noteAudit(request, { key: file.key, bytes: file.size });
      return reply.code(201).send(userFileJson(file));
    },
  });
}
