/**
 * Dynamic configuration (stores/config): named JSON or YAML documents in the config bucket, every
 * change a new version, with an optional JSON Schema per name, and feature flags evaluated from
 * documents named `flags/<flag>`.
 */

export type DocumentFormat = "json" | "yaml";

/** A JSON value as parsed from a document. */
export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

export interface ConfigVersion {
  name: string;
  /** 1, 2, 3, ... per name; never reused. */
  version: number;
  format: DocumentFormat;
  createdAt: Date;
  /** The service (API key) that wrote it. */
  author: string;
  /** Hex sha256 of the source text. */
  sha256: string;
  /** Bytes of the source text. */
  size: number;
  /** Set when the version was written by a rollback: the version whose content it restores. */
  restoredFrom?: number;
}

export interface ConfigDocument extends ConfigVersion {
  /** The document as it was put, comments and all. */
  source: string;
  value: JsonValue;
}

export interface PutDocumentRequest {
  name: string;
  source: string;
  format: DocumentFormat;
  author: string;
  /**
   * Optimistic concurrency: store only if the latest version is this one (0: only if the name has
   * no version yet). A mismatch is PRECONDITION_FAILED and stores nothing.
   */
  expectedVersion?: number;
}

export interface DiffEntry {
  /** JSON Pointer (RFC 6901) of the place that differs; "" is the whole document. */
  path: string;
  from?: JsonValue;
  to?: JsonValue;
}

export interface ConfigDiff {
  name: string;
  from: number;
  to: number;
  added: DiffEntry[];
  removed: DiffEntry[];
  changed: DiffEntry[];
}

export interface ConfigSchema {
  name: string;
  schema: JsonValue;
  sha256: string;
  createdAt: Date;
  author: string;
}

export type FlagReason = "disabled" | "denied" | "allowed" | "rollout" | "not-in-rollout";

export interface FlagEvaluation {
  flag: string;
  subject: string;
  enabled: boolean;
  reason: FlagReason;
  /** The flag document's version the answer came from. */
  version: number;
}

export interface ConfigStore {
  put(req: PutDocumentRequest): Promise<ConfigVersion>;
  /** The latest version, or the given one. */
  get(name: string, version?: number): Promise<ConfigDocument>;
  /** Every version, oldest first. */
  history(name: string): Promise<ConfigVersion[]>;
  diff(name: string, from: number, to: number): Promise<ConfigDiff>;
  /** Writes version `version`'s content as a new latest version. */
  rollback(name: string, version: number, author: string): Promise<ConfigVersion>;
  /** Names that have at least one version, sorted. */
  names(): Promise<string[]>;
  putSchema(name: string, source: string, format: DocumentFormat, author: string): Promise<ConfigSchema>;
  getSchema(name: string): Promise<ConfigSchema>;
  evaluateFlag(flag: string, subject: string): Promise<FlagEvaluation>;
}
