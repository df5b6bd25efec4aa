import { spawn } from "node:child_process";
import { copyFile, mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Secret } from "../config/secret.ts";
import { type ErrorCode, StorageError } from "../errors.ts";

/**
 * The one MinIO-only adapter: users and IAM policies, by running the MinIO client `mc` as a
 * separate program (AGPL-3.0; only ever executed, never linked or copied). The admin alias is passed
 * as MC_HOST_<alias> in the child's environment, and mc runs with a private, temporary config dir,
 * so no credential is written to disk or shows in `ps`; user secrets go through stdin.
 */

export interface MinioAdminOptions {
  /** Path or name (on PATH) of the mc binary. */
  mcBinary: string;
  /** http(s)://host:port of the MinIO server. */
  endpoint: string;
  accessKey: Secret;
  secretKey: Secret;
  /** PEM CA bundle for a MinIO on TLS with a private CA. */
  caFile?: string;
  timeoutMs?: number;
}

export type PolicyDocument = Record<string, unknown>;

interface McError {
  message?: string;
  cause?: { message?: string; error?: { Code?: string } };
}

interface McResult {
  ok: boolean;
  json: Record<string, unknown> & { error?: McError };
}

const ALIAS = "lss";

/** mc's error codes → the service's, for the handful that callers branch on. */
const CODES: Record<string, ErrorCode> = {
  XMinioAdminNoSuchUser: "NOT_FOUND",
  XMinioAdminNoSuchPolicy: "NOT_FOUND",
  XMinioMalformedIAMPolicy: "INVALID_ARGUMENT",
  XMinioAdminInvalidArgument: "INVALID_ARGUMENT",
  AccessDenied: "PERMISSION_DENIED",
  InvalidAccessKeyId: "UNAUTHENTICATED",
  SignatureDoesNotMatch: "UNAUTHENTICATED",
};

function hostUrl(endpoint: string, accessKey: string, secretKey: string): string {
  const url = new URL(endpoint);
  return `${url.protocol}//${encodeURIComponent(accessKey)}:${encodeURIComponent(secretKey)}@${url.host}`;
}

/**
 * Keys sorted recursively, and lists of strings (Action, Resource) sorted too: MinIO stores them
 * as sets and returns them in its own order.
 */
function canonical(value: unknown): unknown {
  if (Array.isArray(value)) {
    return value.every((v) => typeof v === "string") ? [...value].sort() : value.map(canonical);
  }
  if (value && typeof value === "object") {
    return Object.fromEntries(
      Object.keys(value as object)
        .sort()
        .map((k) => [k, canonical((value as Record<string, unknown>)[k])]),
    );
  }
  return value;
}

export class MinioAdmin {
  readonly #options: MinioAdminOptions;
  readonly #dir: string;

  private constructor(options: MinioAdminOptions, dir: string) {
    this.#options = options;
    this.#dir = dir;
  }

  /** Prepares mc's private config dir (with the CA, if any). Call close() when done. */
  static async open(options: MinioAdminOptions): Promise<MinioAdmin> {
    const dir = await mkdtemp(join(tmpdir(), "lumenslate-mc-"));
    try {
      if (options.caFile) {
        await mkdir(join(dir, "certs", "CAs"), { recursive: true });
        await copyFile(options.caFile, join(dir, "certs", "CAs", "minio-ca.crt"));
      }
    } catch (err) {
      await rm(dir, { recursive: true, force: true });
      throw new StorageError(
        "INVALID_ARGUMENT",
        `MINIO_CA_FILE ${options.caFile} cannot be read.`,
        {},
        { cause: err },
      );
    }
    return new MinioAdmin(options, dir);
  }

  async close(): Promise<void> {
    await rm(this.#dir, { recursive: true, force: true });
  }

  async userExists(accessKey: string): Promise<boolean> {
    const r = await this.#mc(["admin", "user", "info", ALIAS, accessKey]);
    if (r.ok) return true;
    if (this.#code(r) === "NOT_FOUND") return false;
    throw this.#error(r, "read the MinIO user");
  }

  /** Whether `accessKey`/`secretKey` sign requests MinIO accepts (AccessDenied still proves the secret). */
  async credentialsWork(accessKey: string, secretKey: Secret): Promise<boolean> {
    const r = await this.#mc(["ls", "probe"], {
      env: { MC_HOST_probe: hostUrl(this.#options.endpoint, accessKey, secretKey.reveal()) },
      secrets: [secretKey.reveal()],
    });
    if (r.ok) return true;
    const code = this.#code(r);
    if (code === "PERMISSION_DENIED") return true;
    if (code === "UNAUTHENTICATED") return false;
    throw this.#error(r, "check the MinIO user's credentials");
  }

  /** Creates the user, or resets its secret when it differs. Reports what it did. */
  async ensureUser(accessKey: string, secretKey: Secret): Promise<"created" | "updated" | "unchanged"> {
    const exists = await this.userExists(accessKey);
    if (exists && (await this.credentialsWork(accessKey, secretKey))) return "unchanged";
    // Keys on stdin (mc reads them when the arguments are left out), never in argv.
    const r = await this.#mc(["admin", "user", "add", ALIAS], {
      stdin: `${accessKey}\n${secretKey.reveal()}\n`,
      secrets: [secretKey.reveal()],
    });
    if (!r.ok) throw this.#error(r, "create the MinIO user");
    return exists ? "updated" : "created";
  }

  async getPolicy(name: string): Promise<PolicyDocument | undefined> {
    const r = await this.#mc(["admin", "policy", "info", ALIAS, name]);
    if (!r.ok) {
      if (this.#code(r) === "NOT_FOUND") return undefined;
      throw this.#error(r, "read the MinIO policy");
    }
    const info = r.json.policyInfo as { Policy?: PolicyDocument } | undefined;
    return info?.Policy ?? undefined;
  }

  /** Creates or replaces the named IAM policy when it differs from `policy`. */
  async ensurePolicy(name: string, policy: PolicyDocument): Promise<"created" | "updated" | "unchanged"> {
    const current = await this.getPolicy(name);
    if (current && JSON.stringify(canonical(current)) === JSON.stringify(canonical(policy)))
      return "unchanged";
    const file = join(this.#dir, `policy-${name}.json`);
    await writeFile(file, JSON.stringify(policy, null, 2));
    const r = await this.#mc(["admin", "policy", "create", ALIAS, name, file]);
    await rm(file, { force: true });
    if (!r.ok) throw this.#error(r, `create the MinIO policy ${name}`);
    return current ? "updated" : "created";
  }

  /** Policies attached to a user. */
  async userPolicies(accessKey: string): Promise<string[]> {
    const r = await this.#mc(["admin", "user", "info", ALIAS, accessKey]);
    if (!r.ok) throw this.#error(r, "read the MinIO user");
    const names = typeof r.json.policyName === "string" ? r.json.policyName : "";
    return names
      .split(",")
      .map((s) => s.trim())
      .filter(Boolean);
  }

  async attachPolicy(accessKey: string, name: string): Promise<"attached" | "unchanged"> {
    if ((await this.userPolicies(accessKey)).includes(name)) return "unchanged";
    const r = await this.#mc(["admin", "policy", "attach", ALIAS, name, "--user", accessKey]);
    // Some mc versions call a repeated attach an error; the state is what we wanted either way.
    if (!r.ok && !/already/i.test(JSON.stringify(r.json.error ?? {}))) {
      throw this.#error(r, `attach the MinIO policy ${name}`);
    }
    return "attached";
  }

  async removeUser(accessKey: string): Promise<void> {
    const r = await this.#mc(["admin", "user", "rm", ALIAS, accessKey]);
    if (!r.ok && this.#code(r) !== "NOT_FOUND") throw this.#error(r, "remove the MinIO user");
  }

  async removePolicy(name: string): Promise<void> {
    const r = await this.#mc(["admin", "policy", "rm", ALIAS, name]);
    if (!r.ok && this.#code(r) !== "NOT_FOUND") throw this.#error(r, "remove the MinIO policy");
  }

  #code(r: McResult): ErrorCode | undefined {
    const code = r.json.error?.cause?.error?.Code;
    return code ? CODES[code] : undefined;
  }

  #error(r: McResult, doing: string): StorageError {
    const e = r.json.error;
    const why = [e?.message, e?.cause?.message].filter(Boolean).join(": ") || "mc failed";
    const code =
      this.#code(r) ?? (/dial|connection|timeout|no such host/i.test(why) ? "UNAVAILABLE" : "INTERNAL");
    // mc's messages can echo URLs; the secrets never leave this module.
    const secrets = [this.#options.secretKey.reveal(), this.#options.accessKey.reveal()];
    let text = `Could not ${doing}: ${why}`;
    for (const s of secrets) if (s.length >= 4) text = text.split(s).join("[redacted]");
    return new StorageError(code === "UNAUTHENTICATED" ? "PERMISSION_DENIED" : code, text);
  }

  /** Runs `mc --json <args>` and returns its last JSON line. */
  #mc(
    args: string[],
    extra: { stdin?: string; env?: Record<string, string>; secrets?: string[] } = {},
  ): Promise<McResult> {
    const { mcBinary, endpoint, accessKey, secretKey, timeoutMs = 60_000 } = this.#options;
    const env: Record<string, string> = {
      // Only what mc needs: the caller's own MC_HOST_* or ~/.mc must not change what we talk to.
      HOME: this.#dir,
      MC_CONFIG_DIR: this.#dir,
      MC_NO_COLOR: "1",
      MC_DISABLE_PAGER: "1",
      [`MC_HOST_${ALIAS}`]: hostUrl(endpoint, accessKey.reveal(), secretKey.reveal()),
      ...extra.env,
    };
    return new Promise((resolve, reject) => {
      const child = spawn(mcBinary, ["--json", ...args], { env, stdio: ["pipe", "pipe", "pipe"] });
      let stdout = "";
      let stderr = "";
      const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
      child.stdout.setEncoding("utf8").on("data", (d: string) => {
        stdout += d;
      });
      child.stderr.setEncoding("utf8").on("data", (d: string) => {
        stderr += d;
      });
      child.stdin.on("error", () => {}); // mc may exit before reading stdin
      child.stdin.end(extra.stdin ?? "");
      child.once("error", (err: NodeJS.ErrnoException) => {
        clearTimeout(timer);
        reject(
          new StorageError(
            "UNAVAILABLE",
            err.code === "ENOENT"
              ? `The MinIO client '${mcBinary}' was not found: run scripts/ensure-mc.sh and set MC_BINARY to the path it prints.`
              : `The MinIO client '${mcBinary}' could not be started (${err.code ?? err.message}).`,
          ),
        );
      });
      child.once("close", (code, signal) => {
        clearTimeout(timer);
        const lines = stdout.split("\n").filter((l) => l.trim().startsWith("{"));
        let json: McResult["json"] | undefined;
        try {
          json = lines.length ? (JSON.parse(lines.at(-1) as string) as McResult["json"]) : undefined;
        } catch {
          json = undefined;
        }
        if (!json) {
          const why = signal ? `killed by ${signal} (timeout ${timeoutMs} ms?)` : `exited ${code}`;
          let tail = stderr.trim().split("\n").slice(-3).join(" ");
          for (const s of [secretKey.reveal(), ...(extra.secrets ?? [])])
            tail = tail.split(s).join("[redacted]");
          resolve({
            ok: false,
            json: { error: { message: `mc ${args.slice(0, 3).join(" ")} ${why}: ${tail}` } },
          });
          return;
        }
        resolve({ ok: code === 0 && json.status !== "error", json });
      });
    });
  }
}
