import type { AppContext } from "../app.ts";
import type { AuditEvent } from "../security/audit.ts";
import type {
  ConfigDiff,
  ConfigDocument,
  ConfigVersion,
  FlagEvaluation,
  PutDocumentRequest,
} from "../stores/config/types.ts";

/** Dynamic configuration and flags (stores/config) for the `config` commands, locally or through /v1/config. */
export interface ConfigApi {
  /** `author` is recorded in local mode; a service records the calling key's service instead. */
  put(req: PutDocumentRequest): Promise<ConfigVersion>;
  get(name: string, version?: number): Promise<ConfigDocument>;
  history(name: string): Promise<ConfigVersion[]>;
  diff(name: string, from: number, to: number): Promise<ConfigDiff>;
  rollback(name: string, version: number, author: string): Promise<ConfigVersion>;
  evaluateFlag(flag: string, subject: string): Promise<FlagEvaluation>;
}

type Audited = <T>(
  event: Omit<AuditEvent, "result">,
  run: () => Promise<T>,
  describe?: (result: T) => Partial<AuditEvent>,
) => Promise<T>;

/** Local mode: the app's config store, with the CLI's audit records (see local-api.ts). */
export function localConfig(app: AppContext, audited: Audited): ConfigApi {
  const store = app.configStore;
  const bucket = app.config.buckets.config;
  return {
    put: (req) =>
      audited(
        { action: "config.put", service: req.author, bucket, key: `${req.name}/` },
        () => store.put(req),
        (v) => ({ bytes: v.size, details: { version: v.version, sha256: v.sha256 } }),
      ),
    get: (name, version) => store.get(name, version),
    history: (name) => store.history(name),
    diff: (name, from, to) => store.diff(name, from, to),
    rollback: (name, version, author) =>
      audited(
        { action: "config.rollback", service: author, bucket, key: `${name}/` },
        () => store.rollback(name, version, author),
        (v) => ({ details: { version: v.version, restoredFrom: version } }),
      ),
    evaluateFlag: (flag, subject) => store.evaluateFlag(flag, subject),
  };
}
