import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import type { ZodTypeProvider } from "fastify-type-provider-zod";
import { z } from "zod";
import type { AppContext } from "../../../app.ts";
import type { ObjectInfo } from "../../../core/types.ts";
import { StorageError } from "../../../errors.ts";
import { normaliseKey, pathParams, queryString, type RouteAccess } from "../access.ts";
import { evaluatePreconditions, hasPreconditions, rangeApplies } from "../conditional.ts";
import { applyContentSafety } from "../content-safety.ts";
import { disconnectSignal } from "../disconnect.ts";
import { objectHeaders } from "../headers.ts";
import { CONDITIONAL_HEADERS, OBJECT_HEADERS, READ_HEADERS, SSE_C_HEADERS } from "../openapi-headers.ts";
import { contentRange, parseRange, type RangeSpec, resolveRange } from "../range.ts";
import { OBJECT_URL, ObjectParams, problemResponses } from "../schemas.ts";
import { customerKeyFromHeaders } from "../sse-c.ts";

const ReadQuery = z.object({
  versionId: z.string().min(1).optional().describe("Read this version instead of the latest."),
  download: z
    .string()
    .optional()
    .describe(
      "Send Content-Disposition: attachment with this file name (empty: the key's last segment). " +
        "Active types (HTML, SVG, XML, script) are sent as attachments even without it.",
    ),
});

const notModified = z
  .undefined()
  .describe("Not modified: the caller's copy is current (ETag, Last-Modified)");

/** The object's bytes, as generators expect binary: the actual Content-Type is the object's own. */
const bytes = (description: string) => ({
  description: `${description} (Content-Type is the object's own)`,
  content: {
    "application/octet-stream": {
      schema: z.string().meta({ format: "binary", contentMediaType: "application/octet-stream" }),
    },
  },
});

const preconditionFailed = () =>
  new StorageError(
    "PRECONDITION_FAILED",
    "A conditional header (If-Match / If-Unmodified-Since) did not hold.",
    {
      field: "if-match",
    },
  );

const unsatisfiable = (size: number) =>
  new StorageError("RANGE_NOT_SATISFIABLE", `The range lies outside the object (${size} bytes).`, {
    field: "range",
    size,
  });

/** Reading one object (or its headers) needs `read` on its key. */
const readAccess = (operation: string): RouteAccess => ({
  operation,
  audited: false,
  url: (request) => {
    const { bucket, rest } = pathParams(request);
    const versionId = queryString(request, "versionId");
    return [{ action: "read", bucket, key: normaliseKey(rest), ...(versionId ? { versionId } : {}) }];
  },
});

/** 304/412 per RFC 9110 §13.2.2; returns true when the reply has been answered. */
function answerPreconditions(request: FastifyRequest, reply: FastifyReply, info: ObjectInfo): boolean {
  const outcome = evaluatePreconditions(request.method, request.headers, info);
  if (outcome === "failed") throw preconditionFailed();
  if (outcome === "not-modified") {
    reply.code(304).headers(objectHeaders(info)).send();
    return true;
  }
  return false;
}

/** The headers of a 200/206 or HEAD answer; `inlineActive`: the bucket may serve HTML and the like inline. */
function describe(
  reply: FastifyReply,
  info: ObjectInfo,
  download: string | undefined,
  inlineActive: boolean,
): void {
  reply.headers(objectHeaders(info)).header("accept-ranges", "bytes").type(info.contentType);
  applyContentSafety(reply, info, download, inlineActive);
}

/** GET (ranges, conditionals, Content-Disposition) and HEAD of one object. */
export function registerObjectReadRoutes(fastify: FastifyInstance, app: AppContext): void {
  const f = fastify.withTypeProvider<ZodTypeProvider>();
  const { service } = app;
  const inlineBuckets = new Set(app.config.http.inlineActiveContentBuckets);

  // HEAD first, so Fastify does not derive one from GET (which would open a download).
  f.route({
    method: "HEAD",
    url: OBJECT_URL,
    // An explicit HEAD (not derived from GET) belongs in the OpenAPI document.
    config: { swagger: { exposeHeadRoute: true }, access: readAccess("stat") },
    schema: {
      tags: ["objects"],
      summary: "Object headers only (size, type, ETag, sha256, metadata)",
      operationId: "statObject",
      errors: ["PRECONDITION_FAILED"],
      requestHeaders: [...CONDITIONAL_HEADERS, ...SSE_C_HEADERS],
      responseHeaders: { 200: READ_HEADERS, 304: OBJECT_HEADERS },
      params: ObjectParams,
      querystring: ReadQuery,
      response: { 200: z.undefined().describe("Headers only"), 304: notModified, ...problemResponses },
    },
    handler: async (request, reply) => {
      const { bucket, "*": key } = request.params;
      const info = await service.stat(
        bucket,
        key,
        request.query.versionId,
        customerKeyFromHeaders(request.headers),
      );
      if (answerPreconditions(request, reply, info)) return reply;
      describe(reply, info, request.query.download, inlineBuckets.has(bucket));
      return reply.header("content-length", String(info.size)).code(200).send();
    },
  });

  f.route({
    method: "GET",
    url: OBJECT_URL,
    config: { access: readAccess("download") },
    schema: {
      tags: ["objects"],
      summary: "Download an object (Range, If-None-Match, If-Match, If-Modified-Since, If-Range)",
      description:
        "Full reads are verified against the recorded sha256 while streaming; a mismatch cuts the " +
        "connection. One byte range per request (bytes=a-b, a-, -n): 206 with Content-Range, 416 with " +
        "`Content-Range: bytes */size` when it lies outside the object. x-checksum-sha256 is always the " +
        "whole object's.",
      operationId: "downloadObject",
      errors: ["PRECONDITION_FAILED", "RANGE_NOT_SATISFIABLE", "DATA_CORRUPTED"],
      requestHeaders: ["range", "if-range", ...CONDITIONAL_HEADERS, ...SSE_C_HEADERS],
      responseHeaders: { 200: READ_HEADERS, 206: [...READ_HEADERS, "content-range"], 304: OBJECT_HEADERS },
      params: ObjectParams,
      querystring: ReadQuery,
      response: {
        200: bytes("The object"),
        206: bytes("The requested byte range"),
        304: notModified,
        ...problemResponses,
      },
    },
    handler: async (request, reply) => {
      const { bucket, "*": key } = request.params;
      const { versionId, download: downloadName } = request.query;
      const headers = request.headers;
      const spec: RangeSpec | undefined = parseRange(headers.range);
      const sseC = customerKeyFromHeaders(headers);

      // A HEAD first only when something depends on it: preconditions, If-Range, or a suffix range.
      let stat: ObjectInfo | undefined;
      if (hasPreconditions(headers) || (spec && ("suffix" in spec || headers["if-range"]))) {
        stat = await service.stat(bucket, key, versionId, sseC);
        if (answerPreconditions(request, reply, stat)) return reply;
      }
      let range: { start: number; end?: number } | undefined;
      if (spec && (!stat || rangeApplies(headers, stat))) {
        if ("suffix" in spec) {
          const size = (stat as ObjectInfo).size;
          range = resolveRange(spec, size);
          if (!range) throw unsatisfiable(size);
        } else range = spec;
      }

      const download = await service
        .download(bucket, key, { versionId, range, signal: disconnectSignal(reply), ...sseC })
        .catch(async (err: unknown) => {
          if (!(err instanceof StorageError) || err.code !== "RANGE_NOT_SATISFIABLE") throw err;
          throw unsatisfiable(stat?.size ?? (await service.stat(bucket, key, versionId, sseC)).size);
        });
      const info = download.info;
      // The object may have changed between the HEAD and the GET: judge what is actually sent.
      if (stat && info.etag !== stat.etag) {
        try {
          if (answerPreconditions(request, reply, info)) {
            download.body.destroy();
            return reply;
          }
        } catch (err) {
          download.body.destroy();
          throw err;
        }
      }
      describe(reply, info, downloadName, inlineBuckets.has(bucket));
      reply.header("content-length", String(download.contentLength));
      if (download.range) {
        const spanned = resolveRange({ start: download.range.start, end: download.range.end }, info.size);
        if (spanned) reply.header("content-range", contentRange(spanned, info.size));
        reply.code(206);
      } else reply.code(200);
      // Bytes are streamed as they are; the response schema only documents them.
      return (reply as FastifyReply).send(download.body);
    },
  });
}
