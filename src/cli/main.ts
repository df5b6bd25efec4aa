import { Command, CommanderError } from "commander";
import pkg from "../../package.json" with { type: "json" };
import { ConfigError } from "../config/config.ts";
import { type ErrorCode, StorageError } from "../errors.ts";
import { redactTokens } from "../security/redact.ts";
import { registerAudit } from "./commands/audit.ts";
import { registerBootstrap } from "./commands/bootstrap.ts";
import { registerConfig } from "./commands/config.ts";
import { registerGet } from "./commands/get.ts";
import { registerKeys } from "./commands/keys.ts";
import { registerLogin } from "./commands/login.ts";
import { registerLogs } from "./commands/logs.ts";
import { registerLs } from "./commands/ls.ts";
import { registerMirror } from "./commands/mirror.ts";
import { registerModel } from "./commands/model.ts";
import { registerObjectCommands } from "./commands/objects.ts";
import { registerProto } from "./commands/proto.ts";
import { registerPut } from "./commands/put.ts";
import { registerReconcile } from "./commands/reconcile.ts";
import { registerServe } from "./commands/serve.ts";
import { registerStats } from "./commands/stats.ts";
import { registerTemp } from "./commands/temp.ts";
import { registerUsers } from "./commands/users.ts";
import { type CliContext, type CliIo, createCliContext, type Env } from "./context.ts";
import { describeTarget, remoteModeHelp, wantsHelp } from "./help.ts";

/**
 * Exit status by error code, so scripts can tell "fix your input" (2) from "retry later" (3) and
 * "not there" (4) without parsing messages. A Record over ErrorCode: a new code must be placed here.
 */
export const EXIT_CODES: Record<ErrorCode, number> = {
  INVALID_ARGUMENT: 2,
  UNSUPPORTED_TYPE: 2,
  TOO_LARGE: 2,
  PRECONDITION_FAILED: 2,
  RANGE_NOT_SATISFIABLE: 2,
  ALREADY_EXISTS: 2,
  UNAVAILABLE: 3,
  DEADLINE_EXCEEDED: 3,
  RATE_LIMITED: 3,
  OVERLOADED: 3,
  NOT_FOUND: 4,
  PERMISSION_DENIED: 5,
  UNAUTHENTICATED: 5,
  CANCELLED: 130,
  DATA_CORRUPTED: 1,
  UNSUPPORTED_OPERATION: 1,
  INTERNAL: 1,
};

/** Usage errors (unknown option, missing argument) exit like INVALID_ARGUMENT. */
export const EXIT_USAGE = 2;
/** EX_CONFIG from sysexits.h. */
export const EXIT_CONFIG = 78;

/** Values from the environment that must never be echoed, even inside a library's error message. */
export function secretsIn(env: Env): string[] {
  const secrets = [
    env.MINIO_SECRET_KEY,
    env.MINIO_ACCESS_KEY,
    env.DATABASE_URL,
    env.MINIO_ADMIN_SECRET_KEY,
    env.MINIO_AUDIT_WEBHOOK_TOKEN,
    env.LUMENSLATE_TOKEN,
  ];
  if (env.DATABASE_URL) {
    try {
      secrets.push(decodeURIComponent(new URL(env.DATABASE_URL).password));
    } catch {
      // not a URL: the whole value is already listed
    }
  }
  return secrets.filter((s): s is string => s !== undefined && s.length >= 4);
}

export function scrub(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const secret of secrets) out = out.split(secret).join("[redacted]");
  return out;
}

export interface ErrorReport {
  exitCode: number;
  /** One line, no trailing newline. */
  line: string;
  /** Stack traces (with causes), only for --verbose. */
  stack?: string;
}

function stacks(err: unknown): string {
  const parts: string[] = [];
  for (let e: unknown = err; e instanceof Error && parts.length < 5; e = e.cause) {
    parts.push(parts.length ? `caused by: ${e.stack ?? e.message}` : (e.stack ?? e.message));
  }
  return parts.join("\n");
}

const oneLine = (text: string) => text.replace(/\s*\n\s*/g, " ").trim();

export function describeError(
  err: unknown,
  options: { verbose?: boolean; secrets?: string[] } = {},
): ErrorReport {
  const secrets = options.secrets ?? [];
  let exitCode: number;
  let line: string;
  if (err instanceof StorageError) {
    exitCode = EXIT_CODES[err.code] ?? 1;
    line = `error: ${err.code}: ${err.message}`;
  } else if (err instanceof ConfigError) {
    exitCode = EXIT_CONFIG;
    line = `error: ${err.message}`;
  } else {
    exitCode = 1;
    line = `error: INTERNAL: ${err instanceof Error ? err.message : String(err)}`;
  }
  // API key tokens keep their id and lose their secret, wherever they appear.
  const report: ErrorReport = { exitCode, line: redactTokens(scrub(oneLine(line), secrets)) };
  if (options.verbose) report.stack = redactTokens(scrub(stacks(err), secrets));
  return report;
}

/** `target` is the "target: ..." line that help pages end with (computed before parsing, see main). */
export function buildProgram(ctx: CliContext, target?: string): Command {
  const program = new Command("lumenslate-storage")
    .description(
      "Lumen Slate storage service: run the server, or manage buckets and objects, locally or through a running service.",
    )
    .version(pkg.version, "-V, --version")
    .enablePositionalOptions() // program options come first, so subcommands may have their own --version
    .exitOverride()
    .configureOutput({
      writeOut: (text) => ctx.io.stdout.write(text),
      writeErr: (text) => ctx.io.stderr.write(text),
    });
  registerServe(program, ctx);
  registerBootstrap(program, ctx);
  registerPut(program, ctx);
  registerGet(program, ctx);
  registerLs(program, ctx);
  registerObjectCommands(program, ctx);
  registerMirror(program, ctx);
  registerLogin(program, ctx);
  registerReconcile(program, ctx);
  registerStats(program, ctx);
  registerKeys(program, ctx);
  registerAudit(program, ctx);
  registerProto(program, ctx);
  registerConfig(program, ctx);
  registerTemp(program, ctx);
  registerLogs(program, ctx);
  registerUsers(program, ctx);
  registerModel(program, ctx);
  program.addHelpText("after", remoteModeHelp(ctx));
  if (target) program.addHelpText("afterAll", `\n${target}`);
  return program;
}

/** Runs the CLI and returns the exit status; it never throws and never calls process.exit. */
export async function main(argv: string[], options: { env?: Env; io?: CliIo } = {}): Promise<number> {
  const env = options.env ?? process.env;
  const io = options.io ?? { stdout: process.stdout, stderr: process.stderr, stdin: process.stdin };
  const ctx = createCliContext(env, io);
  // Help is printed while parsing, synchronously: the target (which may read files) is found first.
  const program = buildProgram(ctx, wantsHelp(argv) ? await describeTarget(ctx, argv) : undefined);
  let verbose = false;
  program.hook("preAction", (_program, action) => {
    verbose = action.opts().verbose === true;
  });
  try {
    await program.parseAsync(argv, { from: "user" });
    return 0;
  } catch (err) {
    // Commander has already printed its own message (or the help text).
    if (err instanceof CommanderError) return err.exitCode === 0 ? 0 : EXIT_USAGE;
    const report = describeError(err, { verbose, secrets: secretsIn(env) });
    io.stderr.write(`${report.line}\n`);
    if (report.stack) io.stderr.write(`${report.stack}\n`);
    return report.exitCode;
  }
}
