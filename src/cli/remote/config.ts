import type { ConfigDiff, ConfigDocument, ConfigVersion, FlagEvaluation } from "../../stores/config/types.ts";
import type { ConfigApi } from "../config-api.ts";
import { keyPath, type ServiceClient } from "./client.ts";

/** The config store through the service's /v1/config and /v1/flags routes. */

type VersionJson = Omit<ConfigVersion, "createdAt"> & { createdAt: string };

const fromJson = <T extends VersionJson>(json: T): Omit<T, "createdAt"> & { createdAt: Date } => ({
  ...json,
  createdAt: new Date(json.createdAt),
});

const CONTENT_TYPE = { json: "application/json", yaml: "application/yaml" } as const;

export function remoteConfig(client: ServiceClient): ConfigApi {
  const get = <T>(path: string, what: string) => client.json<T>("GET", path, undefined, what);
  return {
    put: async (req) => {
      const query = req.expectedVersion === undefined ? "" : `?expectedVersion=${req.expectedVersion}`;
      const res = await client.send(
        `/v1/config/documents/${keyPath(req.name)}${query}`,
        { method: "PUT", headers: { "content-type": CONTENT_TYPE[req.format] }, body: req.source },
        "config put",
      );
      return fromJson((await res.json()) as VersionJson);
    },
    get: async (name, version) => {
      const query = version === undefined ? "" : `?version=${version}`;
      const json = await get<VersionJson & Pick<ConfigDocument, "source" | "value">>(
        `/v1/config/documents/${keyPath(name)}${query}`,
        "config get",
      );
      return fromJson(json);
    },
    history: async (name) =>
      (
        await get<{ versions: VersionJson[] }>(`/v1/config/history/${keyPath(name)}`, "config history")
      ).versions.map(fromJson),
    diff: (name, from, to) =>
      get<ConfigDiff>(
        `/v1/config/diff/${keyPath(name)}?${new URLSearchParams({ from: `${from}`, to: `${to}` })}`,
        "config diff",
      ),
    rollback: async (name, version) =>
      fromJson(
        await client.json<VersionJson>(
          "POST",
          `/v1/config/rollback/${keyPath(name)}`,
          { version },
          "config rollback",
        ),
      ),
    evaluateFlag: (flag, subject) =>
      get<FlagEvaluation>(
        `/v1/flags/${encodeURIComponent(flag)}/evaluation?${new URLSearchParams({ subject })}`,
        "config flag",
      ),
  };
}
