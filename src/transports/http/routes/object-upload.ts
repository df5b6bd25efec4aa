import type { FastifyInstance } from "fastify";
import type { ZodTypeProvider } from "fastify-type-provider-zod";
import { z } from "zod";
import type { AppContext } from "../../../app.ts";
import { StorageError } from "../../../errors.ts";
import { normaliseKey, noteAudit, ownerOf, pathParams } from "../access.ts";
import { disconnectSignal } from "../disconnect.ts";
import { CHECKSUM_HEADER, metadataFromHeaders, objectHeaders, objectPath } from "../headers.ts";
import { OBJECT_HEADERS, SSE_C_HEADERS } from "../openapi-headers.ts";
import { uploadBody } from "../request-body.ts";
import {
  binaryBody,
  OBJECT_URL,
  ObjectInfoSchema,
  ObjectParams,
  objectJson,
  problemResponses,
} from "../schemas.ts";
import { customerKeyFromHeaders } from "../sse-c.ts";

const UploadHeaders = z.looseObject({
  [CHECKSUM_HEADER]: z
    .string()
    .optional()
    .describe("Hex sha256 of the body; a body with another digest is refused (412) and nothing is stored."),
  "content-type": z.string().optional().describe("Kept as the object's type (checked against the content)."),
  "if-none-match": z
    .string()
    .optional()
    .describe(
      "Only `*`: store only if the key has no current object (create-if-absent); else 412 and nothing " +
        "is stored. Any other value is refused (400).",
    ),
  "if-match": z
    .string()
    .optional()
    .describe(
      "One ETag (as returned by an earlier upload, GET or HEAD): store only if it is still the " +
        "object's current ETag (compare-and-swap); else, or when the object does not exist, 412 and " +
        "nothing is stored. Not together with If-None-Match; no lists, no `*`, no weak tags (400).",
    ),
});

/** Names the condition in the audit record, so a refused conditional write says what it asked for. */
const conditionNote = (headers: { "if-match"?: string; "if-none-match"?: string }) =>
  headers["if-none-match"] !== undefined
    ? { condition: "if-none-match" }
    : headers["if-match"] !== undefined
      ? { condition: "if-match" }
      : undefined;

/** One stream per upload: 1 MiB of buffering between the socket and the core. */

/**
 * PUT: the raw request body streamed straight into StorageService.upload. Registered in a scope of
 * its own whose only content-type parser hands the untouched request stream through for every type,
 * so Fastify never buffers or parses an upload.
 */
export async function registerObjectUploadRoute(fastify: FastifyInstance, app: AppContext): Promise<void> {
  fastify.removeAllContentTypeParsers();
  fastify.addContentTypeParser("*", (_request, payload, done) => done(null, payload));

  fastify.withTypeProvider<ZodTypeProvider>().route({
    method: "PUT",
    url: OBJECT_URL,
    config: {
      access: {
        operation: "upload",
        audited: true,
        url: (request) => {
          const { bucket, rest } = pathParams(request);
          return [{ action: "write", bucket, key: normaliseKey(rest) }];
        },
      },
    },
    schema: {
      tags: ["objects"],
      summary: "Upload an object from the raw request body (streamed)",
      description:
        "Any Content-Type; `x-meta-<name>` headers become user metadata; Content-Length (when sent) " +
        "must match the body. The size limit is enforced while streaming: 413 as soon as it is crossed. " +
        "`If-None-Match: *` (create-if-absent) and `If-Match: <etag>` (compare-and-swap) make the write " +
        "conditional, checked atomically when the object becomes visible: 412 PRECONDITION_FAILED " +
        "when the condition does not hold, and nothing is stored. If-Unmodified-Since is refused (400).",
      params: ObjectParams,
      headers: UploadHeaders,
      consumes: ["*/*"],
      streamedBody: binaryBody("The object's bytes"),
      operationId: "uploadObject",
      requestHeaders: [...SSE_C_HEADERS, "x-meta-{name}"],
      responseHeaders: { 201: [...OBJECT_HEADERS, "location"] },
      response: { 201: ObjectInfoSchema, ...problemResponses },
    },
    handler: async (request, reply) => {
      const { bucket, "*": key } = request.params;
      const headers = request.headers;
      const condition = conditionNote(headers);
      if (condition) noteAudit(request, { details: condition });
      // S3 has no date condition on writes; ignoring one would let a write through that the caller
      // meant to stop.
      if (headers["if-unmodified-since"] !== undefined) {
        throw new StorageError(
          "INVALID_ARGUMENT",
          "If-Unmodified-Since is not supported on uploads; send If-Match with the object's ETag.",
          { field: "if-unmodified-since" },
        );
      }
      const body = uploadBody(request);
      const length = headers["content-length"];
      const info = await app.service.upload({
        bucket,
        key,
        body,
        contentType: headers["content-type"],
        metadata: metadataFromHeaders(headers),
        expectedSha256: headers[CHECKSUM_HEADER],
        expectedSize: length === undefined ? undefined : Number(length),
        ifMatch: headers["if-match"],
        ifNoneMatch: headers["if-none-match"],
        signal: disconnectSignal(reply),
        owner: ownerOf(request),
        ...customerKeyFromHeaders(headers),
      });
      noteAudit(request, { key: info.key, versionId: info.versionId, bytes: info.size });
      return reply
        .code(201)
        .headers(objectHeaders(info))
        .header("location", objectPath(info.bucket, info.key))
        .send(objectJson(info));
    },
  });
}
