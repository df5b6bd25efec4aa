import { z } from "zod";
import type { ObjectInfo } from "../../core/types.ts";
import { ERROR_CODES, type ErrorCode } from "../../errors.ts";
import { PROBLEM_CONTENT_TYPE } from "./problem.ts";

/**
 * Zod schemas shared by the route groups. They validate requests and are the single source of the
 * OpenAPI document (openapi.ts), so the published spec cannot drift from what the server accepts.
 */

export const OBJECT_URL = "/v1/buckets/:bucket/objects/*";
export const OBJECTS_URL = "/v1/buckets/:bucket/objects";

const bucket = z.string().describe("Bucket name (S3 naming rules; validated by the core).");

export const BucketParams = z.object({ bucket });

/** `*` is Fastify's name for the rest of the path; the OpenAPI document calls it `key`. */
export const ObjectParams = z.object({
  bucket,
  "*": z.string().describe("Object key: the rest of the path, slashes included, percent-decoded once."),
});

/** Query booleans: `true`/`false` (and `1`/`0`), since query values are strings. */
export const queryBoolean = z.enum(["true", "false", "1", "0"]).transform((v) => v === "true" || v === "1");

const codes = Object.keys(ERROR_CODES) as [ErrorCode, ...ErrorCode[]];

export const ProblemSchema = z
  .object({
    type: z.string().describe("A URN naming the problem type (one per code)."),
    title: z.string(),
    status: z.number().int(),
    detail: z.string(),
    code: z.enum(codes).describe("The core's stable error code."),
    requestId: z.string().describe("Also sent as the x-request-id response header and in every log line."),
    instance: z.string().describe("The request path."),
    details: z.record(z.string(), z.union([z.string(), z.number(), z.boolean()])).optional(),
  })
  .meta({ id: "Problem", description: "RFC 9457 problem details, with the core's error code." });

const problem = (description: string) => ({
  description,
  content: { [PROBLEM_CONTENT_TYPE]: { schema: ProblemSchema } },
});

/** Error responses shared by every route (documentation; the error handler writes them). */
export const problemResponses = {
  "4xx": problem("The request was refused; `code` says why."),
  "5xx": problem("The service or a backend failed; retry UNAVAILABLE later."),
};

export const ObjectInfoSchema = z
  .object({
    bucket: z.string(),
    key: z.string(),
    versionId: z.string().describe('"null" when the bucket is not versioned.'),
    size: z.number().int(),
    etag: z.string(),
    sha256: z.string().optional().describe("Hex sha256 of the content (absent for unindexed objects)."),
    contentType: z.string(),
    metadata: z.record(z.string(), z.string()),
    owner: z.string().optional(),
    lastModified: z.string().describe("ISO 8601 date-time."),
  })
  .meta({ id: "ObjectInfo" });

export type ObjectInfoJson = z.output<typeof ObjectInfoSchema>;

export const objectJson = (info: ObjectInfo): ObjectInfoJson => ({
  bucket: info.bucket,
  key: info.key,
  versionId: info.versionId,
  size: info.size,
  etag: info.etag,
  ...(info.sha256 ? { sha256: info.sha256 } : {}),
  contentType: info.contentType,
  metadata: info.metadata,
  ...(info.owner ? { owner: info.owner } : {}),
  lastModified: info.lastModified.toISOString(),
});

/** OpenAPI description of a body the route streams itself (never validated or buffered). */
export const binaryBody = (description: string) => ({
  description,
  type: "string",
  contentMediaType: "application/octet-stream",
});
