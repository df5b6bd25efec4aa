import { createReadStream } from "node:fs";
import { basename } from "node:path";
import type { AppContext } from "../app.ts";
import type { AuditEvent } from "../security/audit.ts";
import type { DeleteAllReport, Usage, UserFile } from "../stores/user-data/index.ts";
import { uploadSize } from "./temp-api.ts";

/** User data (stores/user-data) for the `users` commands, locally or through /v1/users. */
export interface UserDataApi {
  put(req: UserPutRequest): Promise<UserFile>;
  /** Every file of the user, all pages. */
  ls(userId: string): Promise<UserFile[]>;
  usage(userId: string): Promise<Usage>;
  deleteAll(userId: string, signal: AbortSignal): Promise<DeleteAllReport>;
}

export interface UserPutRequest {
  userId: string;
  file: string;
  /** Defaults to the file's own name. */
  filename?: string;
  contentType?: string;
  /** Recorded in local mode; a service records the calling key's service instead. */
  owner: string;
  signal: AbortSignal;
}

export const uploadName = (req: UserPutRequest): string => req.filename ?? basename(req.file);

type Audited = <T>(
  event: Omit<AuditEvent, "result">,
  run: () => Promise<T>,
  describe?: (result: T) => Partial<AuditEvent>,
) => Promise<T>;

/** Local mode: the app's user-data store, with the CLI's audit records (see local-api.ts). */
export function localUserData(app: AppContext, audited: Audited): UserDataApi {
  const store = app.userData;
  return {
    put: async (req) => {
      const size = await uploadSize(req.file);
      return audited(
        { action: "users.upload", service: req.owner, bucket: store.bucket, key: `users/${req.userId}/` },
        () =>
          store.upload({
            userId: req.userId,
            filename: uploadName(req),
            body: createReadStream(req.file),
            size,
            owner: req.owner,
            signal: req.signal,
            ...(req.contentType ? { contentType: req.contentType } : {}),
          }),
        (file) => ({ key: file.key, bytes: file.size }),
      );
    },
    ls: async (userId) => {
      const files: UserFile[] = [];
      let cursor: string | undefined;
      do {
        const page = await store.list(userId, cursor ? { cursor } : {});
        files.push(...page.files);
        cursor = page.nextCursor;
      } while (cursor);
      return files;
    },
    usage: (userId) => store.usage(userId),
    deleteAll: (userId, signal) =>
      audited(
        { action: "users.delete-all", service: "cli", bucket: store.bucket, key: `users/${userId}/` },
        () => store.deleteAll(userId, signal),
        (report) => ({
          bytes: report.deletedBytes,
          details: { deletedObjects: report.deletedObjects, failed: report.failed },
        }),
      ),
  };
}
