import { Readable } from "node:stream";
import type { ReadableStream as WebReadableStream } from "node:stream/web";
import { StorageError } from "../../errors.ts";
import type { ProtoDiff, ProtoVersion, PublishResult } from "../../stores/proto/types.ts";
import type { ProtosApi } from "../api.ts";
import { keyPath, type ServiceClient } from "./client.ts";

/** The proto registry through the service's /v1/protos routes. */

/** A ProtoVersion as JSON: the same fields, dates as ISO strings. */
type ProtoVersionJson = Omit<ProtoVersion, "createdAt"> & { createdAt: string };

const versionFromJson = (json: ProtoVersionJson): ProtoVersion => ({
  ...json,
  createdAt: new Date(json.createdAt),
});

const enc = encodeURIComponent;

export function remoteProtos(client: ServiceClient): ProtosApi {
  const versionPath = (service: string, version: string) =>
    `/v1/protos/${enc(service)}/versions/${enc(version)}`;

  /** A byte response as a Node stream (the body is the caller's to consume or destroy). */
  const bytes = async (path: string, signal: AbortSignal, what: string): Promise<Readable> => {
    const res = await client.send(path, { headers: { "accept-encoding": "identity" }, signal }, what);
    if (!res.body) throw new StorageError("INTERNAL", `${what}: the service sent no body.`);
    return Readable.fromWeb(res.body as WebReadableStream<Uint8Array>);
  };

  return {
    push: async (req) => {
      const json = await client.json<{ version: ProtoVersionJson; created: boolean }>(
        "POST",
        versionPath(req.service, req.version),
        {
          files: req.files.map((f) => ({ filename: f.filename, content: f.content.toString("base64") })),
          allowBreaking: req.allowBreaking,
        },
        "proto push",
      );
      return { version: versionFromJson(json.version), created: json.created } satisfies PublishResult;
    },
    versions: async (service) => {
      const json = await client.json<{ versions: ProtoVersionJson[] }>(
        "GET",
        `/v1/protos/${enc(service)}/versions`,
        undefined,
        "proto versions",
      );
      return json.versions.map(versionFromJson);
    },
    manifest: async (service, version) =>
      versionFromJson(
        await client.json<ProtoVersionJson>("GET", versionPath(service, version), undefined, "proto pull"),
      ),
    file: (service, version, filename, signal) =>
      bytes(`${versionPath(service, version)}/files/${keyPath(filename)}`, signal, "proto pull"),
    archive: (service, version, signal) =>
      bytes(`${versionPath(service, version)}/archive`, signal, "proto pull --archive"),
    diff: (service, from, to) =>
      client.json<ProtoDiff>(
        "GET",
        `/v1/protos/${enc(service)}/diff?${new URLSearchParams({ from, to })}`,
        undefined,
        "proto diff",
      ),
  };
}
