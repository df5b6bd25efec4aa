import { Readable } from "node:stream";
import { isStorageError, StorageError } from "../../errors.ts";
import type { GcReport, ModelVersion, StoredBlob } from "../../stores/models/types.ts";
import { CHECKSUM_HEADER } from "../../transports/http/headers.ts";
import { sha256File } from "../files.ts";
import { countedFile, type LocalModelFile, type ModelPushRequest, type ModelsApi } from "../models-api.ts";
import { keyPath, type ServiceClient } from "./client.ts";
import { verifiedBody } from "./download.ts";
import { pushThroughSession } from "./model-session.ts";

/** The model store through the service's /v1/models routes. */

type ModelVersionJson = Omit<ModelVersion, "createdAt"> & { createdAt: string };

const versionFromJson = (json: ModelVersionJson): ModelVersion => ({
  ...json,
  createdAt: new Date(json.createdAt),
});

const enc = encodeURIComponent;

/**
 * Whether the service holds a blob of this content already (then its bytes need not be sent), or
 * "unknown" for a key that may write blobs but not read them.
 */
async function stored(client: ServiceClient, sha256: string): Promise<boolean | "unknown"> {
  try {
    await client.send(`/v1/models/blobs/${sha256}`, { method: "HEAD" }, "model push");
    return true;
  } catch (err) {
    if (isStorageError(err) && err.code === "NOT_FOUND") return false;
    if (isStorageError(err) && err.code === "PERMISSION_DENIED") return "unknown";
    throw err;
  }
}

/**
 * One file's blob: hashed here first, so a file the service already has (an unchanged weights
 * file in a new version) costs a HEAD instead of its bytes; else, from `sessions.threshold` bytes
 * on, sent through a resumable upload session (model-session.ts), or streamed with its sha256
 * declared, which the service checks before it keeps the blob.
 */
async function pushBlob(
  client: ServiceClient,
  f: LocalModelFile,
  req: ModelPushRequest,
  onRead: (bytes: number) => void,
): Promise<string> {
  const { signal } = req;
  const sha256 = await sha256File(f.file, signal);
  const known = await stored(client, sha256);
  if (known === true) {
    onRead(f.size);
    return sha256;
  }
  if (req.sessions && f.size >= req.sessions.threshold) {
    // Large files go straight to the object store, resumably; a service without sessions (the
    // local backend) takes them streamed like any other.
    const sent = await pushThroughSession(client, f, sha256, {
      stateDir: req.sessions.stateDir,
      signal,
      onRead,
    });
    if (sent !== "unsupported") {
      if (sent.resumedParts > 0) req.onResume?.(f.path, sent.resumedParts);
      return sha256;
    }
  }
  const body = countedFile(f.file, onRead);
  try {
    const res = await client.send(
      `/v1/models/blobs?${new URLSearchParams({ path: f.path })}`,
      {
        method: "POST",
        headers: {
          "content-type": "application/octet-stream",
          "content-length": String(f.size),
          // The service answers a declared digest it holds before reading the body, closing the
          // connection under a body still being sent: declared only when HEAD said it is new.
          ...(known === false ? { [CHECKSUM_HEADER]: sha256 } : {}),
        },
        body: Readable.toWeb(body) as unknown as RequestInit["body"],
        duplex: "half",
        signal,
      } as RequestInit,
      "model push",
    );
    const blob = (await res.json()) as StoredBlob;
    if (blob.sha256 !== sha256) {
      throw new StorageError(
        "PRECONDITION_FAILED",
        `${f.file} changed while it was pushed (sha256 ${blob.sha256}, hashed before as ${sha256}).`,
        { field: "path", path: f.path },
      );
    }
    return blob.sha256;
  } finally {
    body.destroy();
  }
}

async function push(client: ServiceClient, req: ModelPushRequest): Promise<ModelVersion> {
  let done = 0;
  const onRead = (n: number) => {
    done += n;
    req.onProgress?.(done);
  };
  const files: { path: string; sha256: string }[] = [];
  for (const f of req.files) {
    files.push({ path: f.path, sha256: await pushBlob(client, f, req, onRead) });
  }
  return versionFromJson(
    await client.json<ModelVersionJson>(
      "PUT",
      `/v1/models/${enc(req.modelType)}/${enc(req.version)}`,
      { files, metadata: req.metadata },
      "model push",
    ),
  );
}

export function remoteModels(client: ServiceClient): ModelsApi {
  return {
    push: (req) => push(client, req),
    get: async (modelType, ref) =>
      versionFromJson(
        await client.json<ModelVersionJson>(
          "GET",
          `/v1/models/${enc(modelType)}/${enc(ref)}`,
          undefined,
          "model get",
        ),
      ),
    openFile: async (modelType, version, file, signal) => {
      const what = `model pull ${file.path}`;
      const res = await client.send(
        `/v1/models/${enc(modelType)}/${enc(version)}/files/${keyPath(file.path)}`,
        { headers: { "accept-encoding": "identity" }, signal },
        what,
      );
      if (!res.body) throw new StorageError("INTERNAL", `${what}: the service sent no body.`);
      // Checked against the manifest, not the response's headers: the manifest is what was asked for.
      return verifiedBody(res.body, { sha256: file.sha256, length: file.size, what });
    },
    list: async (filter) => {
      const query = new URLSearchParams();
      if (filter.modelType) query.set("type", filter.modelType);
      if (filter.tag) query.set("tag", filter.tag);
      if (filter.metadata) query.set("metadata", `${filter.metadata.key}=${filter.metadata.value}`);
      if (filter.createdAfter) query.set("createdAfter", filter.createdAfter.toISOString());
      if (filter.cursor) query.set("cursor", filter.cursor);
      if (filter.limit) query.set("limit", String(filter.limit));
      const page = await client.json<{ versions: ModelVersionJson[]; nextCursor?: string }>(
        "GET",
        `/v1/models${query.size ? `?${query}` : ""}`,
        undefined,
        "model ls",
      );
      return {
        versions: page.versions.map(versionFromJson),
        ...(page.nextCursor ? { nextCursor: page.nextCursor } : {}),
      };
    },
    remove: async (modelType, version, force) => {
      await client.send(
        `/v1/models/${enc(modelType)}/${enc(version)}${force ? "?force=true" : ""}`,
        { method: "DELETE" },
        "model rm",
      );
    },
    setAlias: async (modelType, alias, version) => {
      await client.json(
        "PUT",
        `/v1/models/${enc(modelType)}/aliases/${enc(alias)}`,
        { version },
        "model alias",
      );
    },
    removeAlias: async (modelType, alias) => {
      await client.send(
        `/v1/models/${enc(modelType)}/aliases/${enc(alias)}`,
        { method: "DELETE" },
        "model alias",
      );
    },
    gc: (req) =>
      client.json<GcReport>(
        "POST",
        "/v1/models/gc",
        { apply: req.apply, ...(req.graceSeconds === undefined ? {} : { graceSeconds: req.graceSeconds }) },
        "model gc",
      ),
  };
}
