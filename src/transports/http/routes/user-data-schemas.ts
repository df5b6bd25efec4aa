import type { FastifyRequest } from "fastify";
import { z } from "zod";
import type { Action } from "../../../security/index.ts";
import type { Usage, UserFile } from "../../../stores/user-data/index.ts";
import type { Target } from "../access.ts";

/** Schemas and access targets shared by the user-data routes (user-data.ts, user-data-upload.ts). */

export const USER_DATA_TAG = "user-data";

const userId = z.string().min(1).describe("The user whose files these are (one path segment).");
export const UserParams = z.object({ userId });
export const FileParams = z.object({
  userId,
  uploadId: z.string().describe("The upload id the service gave the file when it was uploaded."),
  filename: z.string().describe("The file's name as uploaded."),
});

/**
 * A user's files sit under `users/{userId}/` in the user-data bucket (stores/user-data/keys.ts), so
 * the target is that prefix: a key scoped `user-data/users/{user_id}/:...` and called with
 * `x-user-id: alice` reaches /v1/users/alice/... and nothing else.
 */
export const userTarget =
  (bucket: string, action: Action | readonly Action[]) =>
  (request: FastifyRequest): Target[] => {
    const params = request.params as { userId?: string };
    return [{ action, bucket, key: `users/${params.userId ?? ""}/` }];
  };

export const UserFileSchema = z
  .object({
    userId: z.string(),
    uploadId: z.string(),
    filename: z.string(),
    key: z.string().describe("The object's key in the user-data bucket."),
    size: z.number().int(),
    sha256: z.string(),
    contentType: z.string(),
    lastModified: z.string(),
  })
  .describe("One uploaded file");

export const userFileJson = (file: UserFile) => ({ ...file, lastModified: file.lastModified.toISOString() });

export const UsageSchema = z
  .object({
    userId: z.string(),
    bytes: z.number().int().describe("Bytes stored."),
    objects: z.number().int().describe("Files stored."),
    reservedBytes: z.number().int().describe("Bytes announced by uploads in flight."),
    reservedObjects: z.number().int(),
    quota: z.object({ bytes: z.number().int(), objects: z.number().int() }),
  })
  .describe("A user's usage and quota");

export const usageJson = (usage: Usage) => usage;
