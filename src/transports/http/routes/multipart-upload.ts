import fastifyMultipart, { type MultipartFile, type MultipartValue } from "@fastify/multipart";
import type { FastifyInstance, FastifyRequest } from "fastify";
import type { ZodTypeProvider } from "fastify-type-provider-zod";
import { z } from "zod";
import type { AppContext } from "../../../app.ts";
import type { ObjectInfo } from "../../../core/types.ts";
import { StorageError } from "../../../errors.ts";
import { normaliseKey, noteAudit, ownerOf, pathParams } from "../access.ts";
import { disconnectSignal } from "../disconnect.ts";
import { metadataFromHeaders } from "../headers.ts";
import {
  OBJECT_URL,
  OBJECTS_URL,
  ObjectInfoSchema,
  ObjectParams,
  objectJson,
  problemResponses,
} from "../schemas.ts";

/** Per request: how many parts of each kind a form may carry (busboy limits, enforced while parsing). */
export const MULTIPART_LIMITS = { files: 100, fields: 200, parts: 300, fieldSize: 4096, headerPairs: 100 };

const FormDoc = {
  type: "object",
  properties: {
    key: {
      type: "string",
      description: "Optional, before a file: that file's key under the path prefix (else its filename).",
    },
    sha256: { type: "string", description: "Optional, before a file: that file's expected hex sha256." },
    file: { type: "string", contentMediaType: "application/octet-stream", description: "One or more files." },
  },
};

/** The path after /objects/ is a folder: "docs" and "docs/" both put files under "docs/". */
const folder = (path: string | undefined) => (!path ? "" : path.endsWith("/") ? path : `${path}/`);

/** A parser failure on a malformed body is the client's (busboy throws plain Errors). */
function asUploadError(err: unknown): unknown {
  if (err instanceof StorageError || typeof (err as { statusCode?: unknown })?.statusCode === "number")
    return err;
  const message = err instanceof Error ? err.message : String(err);
  return new StorageError(
    "INVALID_ARGUMENT",
    `Malformed multipart/form-data body: ${message}`,
    {},
    { cause: err },
  );
}

/**
 * POST multipart/form-data: every file part is streamed into StorageService.upload as it arrives,
 * one at a time; nothing is buffered beyond the parser's chunk. Keys: the path after /objects/ is a
 * prefix (folder); a `key` field names the next file, else the file's own filename does. If any file
 * fails, the files this request already stored are deleted again, so a refused form writes nothing.
 */
export async function registerMultipartUploadRoutes(
  fastify: FastifyInstance,
  app: AppContext,
): Promise<void> {
  const { maxFileSize: defaultLimit, maxFileSizeByBucket } = app.config.storage;
  // The largest of the per-bucket limits: each bucket's own is enforced by the core.
  const maxFileSize = Math.max(defaultLimit, ...Object.values(maxFileSizeByBucket).map((l) => l.bytes));
  // Only multipart/form-data is accepted here (anything else: 415).
  fastify.removeAllContentTypeParsers();
  await fastify.register(fastifyMultipart, {
    // One byte over the core's limits, so the core (not busboy's silent truncation) refuses it with 413.
    limits: { ...MULTIPART_LIMITS, fileSize: maxFileSize + 1 },
    throwFileSizeLimit: true,
  });

  const upload = async (request: FastifyRequest, bucket: string, prefix: string, signal: AbortSignal) => {
    const metadata = metadataFromHeaders(request.headers);
    const stored: ObjectInfo[] = [];
    let nextKey: string | undefined;
    let nextSha256: string | undefined;
    try {
      for await (const part of request.parts()) {
        if (part.type === "field") {
          const field = part as MultipartValue;
          if (field.valueTruncated || field.fieldnameTruncated) {
            throw new StorageError("INVALID_ARGUMENT", `Form field '${field.fieldname}' is too long.`, {
              field: field.fieldname,
              limit: MULTIPART_LIMITS.fieldSize,
            });
          }
          if (field.fieldname === "key") nextKey = String(field.value);
          else if (field.fieldname === "sha256") nextSha256 = String(field.value);
          continue;
        }
        const filePart = part as MultipartFile;
        const name = nextKey ?? filePart.filename;
        nextKey = undefined;
        if (!name) {
          throw new StorageError(
            "INVALID_ARGUMENT",
            "A file part needs a filename or a preceding 'key' field.",
            {
              field: filePart.fieldname,
            },
          );
        }
        const file = filePart.file;
        file.once("limit", () =>
          file.destroy(
            new StorageError("TOO_LARGE", `The object is larger than the limit of ${maxFileSize} bytes.`, {
              limit: maxFileSize,
            }),
          ),
        );
        stored.push(
          await app.service.upload({
            bucket,
            key: prefix + name,
            body: file,
            contentType: filePart.mimetype,
            metadata,
            expectedSha256: nextSha256,
            signal,
            owner: ownerOf(request),
          }),
        );
        nextSha256 = undefined;
      }
    } catch (err) {
      // Exactly the files this form stored: never a concurrent writer's object under the same key.
      await Promise.allSettled(stored.map((info) => app.service.withdraw(info)));
      throw asUploadError(err);
    }
    if (stored.length === 0) {
      throw new StorageError("INVALID_ARGUMENT", "The form has no file part.", { field: "file" });
    }
    noteAudit(request, {
      bytes: stored.reduce((sum, info) => sum + info.size, 0),
      details: { objects: stored.length },
    });
    return stored;
  };

  const f = fastify.withTypeProvider<ZodTypeProvider>();
  const schema = {
    tags: ["objects"],
    consumes: ["multipart/form-data"],
    streamedBody: FormDoc,
    response: { 201: z.object({ objects: z.array(ObjectInfoSchema) }), ...problemResponses },
  };
  f.route({
    method: "POST",
    url: OBJECTS_URL,
    config: {
      access: {
        operation: "upload",
        audited: true,
        url: (request) => [{ action: "write", bucket: pathParams(request).bucket }],
      },
    },
    schema: {
      ...schema,
      summary: "Upload files with multipart/form-data at the top of the bucket",
      operationId: "uploadForm",
      params: z.object({ bucket: ObjectParams.shape.bucket }),
    },
    handler: async (request, reply) => {
      const stored = await upload(request, request.params.bucket, "", disconnectSignal(reply));
      return reply.code(201).send({ objects: stored.map(objectJson) });
    },
  });
  f.route({
    method: "POST",
    url: OBJECT_URL,
    config: {
      access: {
        operation: "upload",
        audited: true,
        // Every file lands under the folder, so the folder is what must be in scope.
        url: (request) => {
          const { bucket, rest } = pathParams(request);
          return [{ action: "write", bucket, key: normaliseKey(folder(rest)) }];
        },
      },
    },
    schema: {
      ...schema,
      summary: "Upload files with multipart/form-data under a key prefix (the path is a folder)",
      operationId: "uploadFormUnderPrefix",
      params: ObjectParams,
    },
    handler: async (request, reply) => {
      const { bucket, "*": path } = request.params;
      const stored = await upload(request, bucket, folder(path), disconnectSignal(reply));
      return reply.code(201).send({ objects: stored.map(objectJson) });
    },
  });
}
