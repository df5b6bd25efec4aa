import { createReadStream } from "node:fs";
import { Readable } from "node:stream";
import type { DeleteAllReport, Usage, UserFile } from "../../stores/user-data/index.ts";
import { uploadSize } from "../temp-api.ts";
import { type UserDataApi, uploadName } from "../user-data-api.ts";
import type { ServiceClient } from "./client.ts";

/** User data through the service's /v1/users routes. */

type UserFileJson = Omit<UserFile, "lastModified"> & { lastModified: string };

const fileFromJson = (json: UserFileJson): UserFile => ({
  ...json,
  lastModified: new Date(json.lastModified),
});

const enc = encodeURIComponent;

export function remoteUserData(client: ServiceClient): UserDataApi {
  return {
    put: async (req) => {
      const size = await uploadSize(req.file);
      // The service judges the quota on Content-Length before it reads the body.
      const headers = new Headers({ "content-length": String(size) });
      if (req.contentType) headers.set("content-type", req.contentType);
      const file = createReadStream(req.file);
      try {
        const res = await client.send(
          `/v1/users/${enc(req.userId)}/files/${enc(uploadName(req))}`,
          {
            method: "POST",
            headers,
            body: Readable.toWeb(file) as unknown as RequestInit["body"],
            duplex: "half",
            signal: req.signal,
          } as RequestInit,
          "users put",
        );
        return fileFromJson((await res.json()) as UserFileJson);
      } finally {
        file.destroy();
      }
    },
    ls: async (userId) => {
      const files: UserFile[] = [];
      let cursor: string | undefined;
      do {
        const query = cursor ? `?${new URLSearchParams({ cursor })}` : "";
        const page = await client.json<{ files: UserFileJson[]; nextCursor?: string }>(
          "GET",
          `/v1/users/${enc(userId)}/files${query}`,
          undefined,
          "users ls",
        );
        files.push(...page.files.map(fileFromJson));
        cursor = page.nextCursor;
      } while (cursor);
      return files;
    },
    usage: (userId) => client.json<Usage>("GET", `/v1/users/${enc(userId)}/usage`, undefined, "users usage"),
    deleteAll: (userId) =>
      client.json<DeleteAllReport>("DELETE", `/v1/users/${enc(userId)}/files`, undefined, "users delete-all"),
  };
}
