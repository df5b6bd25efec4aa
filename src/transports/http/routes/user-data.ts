import type { FastifyInstance, FastifyReply } from "fastify";
import type { ZodTypeProvider } from "fastify-type-provider-zod";
import { z } from "zod";
import type { AppContext } from "../../../app.ts";
import { noteAudit } from "../access.ts";
import { applyContentSafety } from "../content-safety.ts";
import { disconnectSignal } from "../disconnect.ts";
import { objectHeaders } from "../headers.ts";
import { problemResponses } from "../schemas.ts";
import {
  FileParams,
  USER_DATA_TAG,
  UsageSchema,
  UserFileSchema,
  UserParams,
  userFileJson,
  userTarget,
} from "./user-data-schemas.ts";

/**
 * A user's files (stores/user-data): list, download, delete one, delete all (a data-removal
 * request), usage and per-user quota. Uploading is in user-data-upload.ts (a streaming scope).
 */

const FILES_URL = "/v1/users/:userId/files";
const FILE_URL = "/v1/users/:userId/files/:uploadId/:filename";

const DeleteAllReportSchema = z
  .object({
    userId: z.string(),
    deletedObjects: z.number().int(),
    deletedBytes: z.number().int(),
    failed: z.number().int().describe("Files that could not be deleted (run again to retry them)."),
    errors: z.array(z.object({ key: z.string(), code: z.string(), message: z.string() })),
  })
  .describe("What was deleted");

const limit = z.number().int().min(0).nullable().optional();

export function registerUserDataRoutes(fastify: FastifyInstance, app: AppContext): void {
  const f = fastify.withTypeProvider<ZodTypeProvider>();
  const { userData } = app;
  const bucket = app.config.buckets.userData;

  f.route({
    method: "GET",
    url: FILES_URL,
    config: { access: { operation: "users.list", audited: false, url: userTarget(bucket, "list") } },
    schema: {
      tags: [USER_DATA_TAG],
      summary: "List a user's files, a page at a time",
      params: UserParams,
      querystring: z.object({
        cursor: z.string().optional().describe("nextCursor of the previous page."),
        limit: z.coerce.number().int().min(1).max(1000).optional(),
      }),
      response: {
        200: z.object({ files: z.array(UserFileSchema), nextCursor: z.string().optional() }),
        ...problemResponses,
      },
    },
    handler: async (request) => {
      const page = await userData.list(request.params.userId, request.query);
      return {
        files: page.files.map(userFileJson),
        ...(page.nextCursor ? { nextCursor: page.nextCursor } : {}),
      };
    },
  });

  f.route({
    method: "GET",
    url: FILE_URL,
    // No derived HEAD: it would open a download to send headers only.
    exposeHeadRoute: false,
    config: { access: { operation: "users.download", audited: false, url: userTarget(bucket, "read") } },
    schema: {
      tags: [USER_DATA_TAG],
      summary: "Download one of a user's files (always as an attachment)",
      params: FileParams,
      errors: ["DATA_CORRUPTED"],
      response: {
        200: {
          description: "The file's bytes (Content-Type is the file's own)",
          content: { "application/octet-stream": { schema: z.string() } },
        },
        ...problemResponses,
      },
    },
    handler: async (request, reply) => {
      const { userId, uploadId, filename } = request.params;
      const download = await userData.download(userId, uploadId, filename, disconnectSignal(reply));
      reply
        .headers(objectHeaders(download.info))
        .type(download.info.contentType)
        .header("content-length", String(download.contentLength));
      // Users' uploads are untrusted content: never rendered inline.
      applyContentSafety(reply, download.info, filename, false);
      return (reply as FastifyReply).send(download.body);
    },
  });

  f.route({
    method: "DELETE",
    url: FILE_URL,
    config: { access: { operation: "users.delete", audited: true, url: userTarget(bucket, "delete") } },
    schema: {
      tags: [USER_DATA_TAG],
      summary: "Delete one of a user's files (its bytes go back to the user's quota)",
      params: FileParams,
      response: { 200: UserFileSchema, ...problemResponses },
    },
    handler: async (request) => {
      const { userId, uploadId, filename } = request.params;
      const file = await userData.delete(userId, uploadId, filename);
      noteAudit(request, { key: file.key, bytes: file.size });
      return userFileJson(file);
    },
  });

  f.route({
    method: "DELETE",
    url: FILES_URL,
    config: {
      access: {
        operation: "users.delete-all",
        audited: true,
        url: userTarget(bucket, ["list", "delete"]),
      },
    },
    schema: {
      tags: [USER_DATA_TAG],
      summary: "Delete every file of a user (a data-removal request), in batches, with a report",
      description:
        "Deletes everything under `users/{userId}/`, up to 1000 files per batch, and reports the files " +
        "and bytes deleted. Files that fail are counted in `failed`: call again to retry them.",
      params: UserParams,
      response: { 200: DeleteAllReportSchema, ...problemResponses },
    },
    handler: async (request, reply) => {
      const report = await userData.deleteAll(request.params.userId, disconnectSignal(reply));
      noteAudit(request, {
        key: `users/${report.userId}/`,
        bytes: report.deletedBytes,
        details: { deletedObjects: report.deletedObjects, failed: report.failed },
      });
      return report;
    },
  });

  f.route({
    method: "GET",
    url: "/v1/users/:userId/usage",
    config: { access: { operation: "users.usage", audited: false, url: userTarget(bucket, "read") } },
    schema: {
      tags: [USER_DATA_TAG],
      summary: "A user's usage (bytes, files, uploads in flight) and quota",
      params: UserParams,
      response: { 200: UsageSchema, ...problemResponses },
    },
    handler: async (request) => userData.usage(request.params.userId),
  });

  f.route({
    method: "PUT",
    url: "/v1/users/:userId/quota",
    config: {
      access: { operation: "users.set-quota", audited: true, url: () => [{ action: "admin", bucket }] },
    },
    schema: {
      tags: [USER_DATA_TAG],
      summary: "Set a user's own quota (admin on the user-data bucket); null returns a limit to the default",
      params: UserParams,
      body: z.object({ bytes: limit, objects: limit }),
      response: { 200: UsageSchema, ...problemResponses },
    },
    handler: async (request) => {
      const { bytes, objects } = request.body;
      return userData.setQuota(request.params.userId, {
        ...(bytes !== undefined ? { bytes } : {}),
        ...(objects !== undefined ? { objects } : {}),
      });
    },
  });
}
