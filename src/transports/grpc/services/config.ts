import { StorageError } from "../../../errors.ts";
import type { Logger } from "../../../log.ts";
import type { Security } from "../../../security/index.ts";
import {
  type ConfigStore,
  type ConfigVersion,
  checkFlagName,
  checkName,
  type DiffEntry,
  type DocumentFormat,
  FLAG_PREFIX,
} from "../../../stores/config/index.ts";
import type { ConfigServiceHandlers } from "../generated/lumenslate/storage/v1/ConfigService.ts";
import type { ConfigVersion as ConfigVersionMessage } from "../generated/lumenslate/storage/v1/ConfigVersion.ts";
import type { DiffEntry as DiffEntryMessage } from "../generated/lumenslate/storage/v1/DiffEntry.ts";
import type { DocumentFormat__Output } from "../generated/lumenslate/storage/v1/DocumentFormat.ts";
import type { InFlight } from "./call-scope.ts";
import { timestamp } from "./convert.ts";
import type { CallGate } from "./gate.ts";
import { unary } from "./storage-service.ts";

export interface ConfigHandlerDeps {
  configStore: ConfigStore;
  security: Security;
  logger: Logger;
  inFlight: InFlight;
  /** The config bucket, where scopes are checked at `{name}/`. */
  bucket: string;
}

const FORMAT_MESSAGE = { json: "DOCUMENT_FORMAT_JSON", yaml: "DOCUMENT_FORMAT_YAML" } as const;

function formatOf(format: DocumentFormat__Output): DocumentFormat {
  if (format === "DOCUMENT_FORMAT_JSON") return "json";
  if (format === "DOCUMENT_FORMAT_YAML") return "yaml";
  throw new StorageError("INVALID_ARGUMENT", "format must be DOCUMENT_FORMAT_JSON or DOCUMENT_FORMAT_YAML.", {
    field: "format",
  });
}

const versionMessage = (v: ConfigVersion): ConfigVersionMessage => ({
  name: v.name,
  version: v.version,
  format: FORMAT_MESSAGE[v.format],
  createdAt: timestamp(v.createdAt),
  author: v.author,
  sha256: v.sha256,
  size: v.size,
  ...(v.restoredFrom === undefined ? {} : { restoredFrom: v.restoredFrom }),
});

const entryMessage = (e: DiffEntry): DiffEntryMessage => ({
  path: e.path,
  ...(e.from === undefined ? {} : { fromJson: JSON.stringify(e.from) }),
  ...(e.to === undefined ? {} : { toJson: JSON.stringify(e.to) }),
});

/**
 * lumenslate.storage.v1.ConfigService on the config store (stores/config). Each handler checks the
 * name first, so the scope check looks exactly where the store then will (`{name}/` in the config
 * bucket), and authorizes before the store is asked anything; puts and rollbacks are audited.
 */
export function configHandlers(deps: ConfigHandlerDeps): ConfigServiceHandlers {
  const { configStore, bucket } = deps;
  const allow = (gate: CallGate, action: "read" | "write", name: string, operation: string) =>
    gate.allow({ action, bucket, key: `${checkName(name)}/`, operation });

  return {
    PutDocument: unary(deps, (req, { gate }) =>
      gate.mutation("config.put", async (facts) => {
        Object.assign(facts, { bucket, key: `${req.name}/` });
        const principal = await allow(gate, "write", req.name, "config.put");
        const v = await configStore.put({
          name: req.name,
          source: req.content,
          format: formatOf(req.format),
          author: principal.service,
          ...(req.expectedVersion === undefined ? {} : { expectedVersion: req.expectedVersion }),
        });
        facts.details = { version: v.version, sha256: v.sha256 };
        return { version: versionMessage(v) };
      }),
    ),

    GetDocument: unary(deps, async (req, { gate }) => {
      await allow(gate, "read", req.name, "config.get");
      const doc = await configStore.get(req.name, req.version);
      return { version: versionMessage(doc), content: doc.source, valueJson: JSON.stringify(doc.value) };
    }),

    GetHistory: unary(deps, async (req, { gate }) => {
      await allow(gate, "read", req.name, "config.history");
      return { versions: (await configStore.history(req.name)).map(versionMessage) };
    }),

    DiffVersions: unary(deps, async (req, { gate }) => {
      await allow(gate, "read", req.name, "config.diff");
      const d = await configStore.diff(req.name, req.from, req.to);
      return {
        name: d.name,
        from: d.from,
        to: d.to,
        added: d.added.map(entryMessage),
        removed: d.removed.map(entryMessage),
        changed: d.changed.map(entryMessage),
      };
    }),

    RollbackDocument: unary(deps, (req, { gate }) =>
      gate.mutation("config.rollback", async (facts) => {
        Object.assign(facts, { bucket, key: `${req.name}/` });
        const principal = await allow(gate, "write", req.name, "config.rollback");
        const v = await configStore.rollback(req.name, req.version, principal.service);
        facts.details = { version: v.version, restoredFrom: req.version };
        return { version: versionMessage(v) };
      }),
    ),

    EvaluateFlag: unary(deps, async (req, { gate }) => {
      await gate.allow({
        action: "read",
        bucket,
        key: `${FLAG_PREFIX}${checkFlagName(req.flag)}/`,
        operation: "flags.evaluate",
      });
      return configStore.evaluateFlag(req.flag, req.subject);
    }),
  };
}
