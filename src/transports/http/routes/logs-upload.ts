import type { FastifyInstance } from "fastify";
import type { ZodTypeProvider } from "fastify-type-provider-zod";
import type { AppContext } from "../../../app.ts";
import { StorageError } from "../../../errors.ts";
import { noteAudit } from "../access.ts";
import { disconnectSignal } from "../disconnect.ts";
import { uploadBody } from "../request-body.ts";
import { binaryBody, ObjectInfoSchema, objectJson, problemResponses } from "../schemas.ts";
import { FileParams, LOGS_TAG, logTarget } from "./logs-schemas.ts";

/**
 * PUT /v1/logs/:service/:date/:hour/:filename: a log file (or any amount of log text) from the raw
 * body, compressed per LOG_STORAGE_COMPRESSION and stored at once as one part of that hour's file.
 */
export function registerLogUploadRoute(fastify: FastifyInstance, app: AppContext): void {
  fastify.removeAllContentTypeParsers();
  fastify.addContentTypeParser("*", (_request, payload, done) => done(null, payload));
  const bucket = app.config.buckets.logs;
  fastify.withTypeProvider<ZodTypeProvider>().route({
    method: "PUT",
    url: "/v1/logs/:service/:date/:hour/:filename",
    config: { access: { operation: "logs.upload", audited: true, url: logTarget(bucket, "write") } },
    schema: {
      tags: [LOGS_TAG],
      summary: "Upload log content for a service's date and hour (stored at once, compressed)",
      description:
        "The body is log text (streamed, compressed on the way in). It becomes one part of the hour's " +
        "file `{service}/{date}/{hour}/{filename}.log.gz`, merged into that object when the hour is " +
        "compacted; an upload never replaces earlier lines. A bad service, date, hour or filename is " +
        "refused (400) and nothing is stored.",
      params: FileParams,
      consumes: ["*/*"],
      streamedBody: binaryBody("The log text"),
      response: { 201: ObjectInfoSchema, ...problemResponses },
    },
    handler: async (request, reply) => {
      const body = uploadBody(request);
      const signal = disconnectSignal(reply);
      signal.addEventListener("abort", () =>
        body.destroy(new StorageError("CANCELLED", "The caller went away.")),
      );
      const info = await app.logArchive.upload(request.params, body);
      noteAudit(request, { bucket, key: info.key, versionId: info.versionId, bytes: info.size });
      return reply.code(201).send(objectJson(info));
    },
  });
}
