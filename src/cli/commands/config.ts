import { readFile } from "node:fs/promises";
import { extname } from "node:path";
import type { Command } from "commander";
import { StorageError } from "../../errors.ts";
import type { ConfigDiff, ConfigVersion, DocumentFormat } from "../../stores/config/types.ts";
import type { CliContext } from "../context.ts";
import { emit, formatFields, formatTable, shortSha } from "../output.ts";
import { commonOptions, parseInteger, remoteFlags, remoteOptions } from "./args.ts";

/**
 * `config put|get|history|diff|rollback|flag`: versioned JSON/YAML documents and feature flags
 * (stores/config), locally or through a service's /v1/config and /v1/flags routes.
 */

type Flags = { json?: boolean; endpoint?: string; token?: string };

const MAX_VERSION = Number.MAX_SAFE_INTEGER;
const version = (text: string, option = "version") => parseInteger(text, option, 1, MAX_VERSION);

/** --format, or the file's extension: .json is JSON, .yaml/.yml YAML. */
function formatOf(file: string, format: string | undefined): DocumentFormat {
  const chosen = format ?? { ".json": "json", ".yaml": "yaml", ".yml": "yaml" }[extname(file).toLowerCase()];
  if (chosen === "json" || chosen === "yaml") return chosen;
  throw new StorageError("INVALID_ARGUMENT", `Say --format json or --format yaml for ${file}.`, {
    field: "format",
  });
}

const versionFields = (v: ConfigVersion): [string, string][] => [
  ["name", v.name],
  ["version", String(v.version)],
  ["format", v.format],
  ["createdAt", v.createdAt.toISOString()],
  ["author", v.author],
  ["sha256", v.sha256],
  ...(v.restoredFrom === undefined ? [] : [["restoredFrom", String(v.restoredFrom)] as [string, string]]),
];

function diffText(d: ConfigDiff): string {
  const show = (v: unknown) => JSON.stringify(v);
  const lines = [
    ...d.added.map((e) => `+ ${e.path || "/"} ${show(e.to)}\n`),
    ...d.removed.map((e) => `- ${e.path || "/"} ${show(e.from)}\n`),
    ...d.changed.map((e) => `~ ${e.path || "/"} ${show(e.from)} -> ${show(e.to)}\n`),
  ];
  return lines.length === 0 ? `no changes from version ${d.from} to ${d.to}\n` : lines.join("");
}

export function registerConfig(program: Command, ctx: CliContext): void {
  const config = program
    .command("config")
    .description("dynamic configuration: versioned JSON/YAML documents, history, rollback, feature flags");
  const command = (name: string, description: string) =>
    remoteOptions(commonOptions(config.command(name).description(description)));

  command("put <name> <file>", "store a JSON or YAML file as the document's next version (parsed first)")
    .option("--format <format>", "json or yaml (default: from the file's extension)")
    .option("--expected-version <n>", "store only if this is the latest version (0: only if new)")
    .option("--author <name>", "author recorded (local mode; a service records the key's service)", "cli")
    .action(
      async (
        name: string,
        file: string,
        opts: Flags & { format?: string; expectedVersion?: string; author: string },
      ) => {
        const format = formatOf(file, opts.format);
        const source = await readFile(file, "utf8").catch((err: NodeJS.ErrnoException) => {
          throw new StorageError("INVALID_ARGUMENT", `Cannot read ${file}: ${err.code ?? err.message}`, {
            field: "file",
          });
        });
        const expected = opts.expectedVersion;
        const v = await ctx.withApi(remoteFlags(opts), (api) =>
          api.config.put({
            name,
            source,
            format,
            author: opts.author,
            ...(expected === undefined
              ? {}
              : { expectedVersion: parseInteger(expected, "expected-version", 0, MAX_VERSION) }),
          }),
        );
        emit(
          ctx.output(opts),
          () => v,
          () => `stored ${v.name} version ${v.version}\n`,
        );
      },
    );

  command("get <name>", "print a document as it was put (latest, or --version n)")
    .option("--version <n>", "an earlier version")
    .action(async (name: string, opts: Flags & { version?: string }) => {
      const doc = await ctx.withApi(remoteFlags(opts), (api) =>
        api.config.get(name, opts.version === undefined ? undefined : version(opts.version)),
      );
      emit(
        ctx.output(opts),
        () => doc,
        () => doc.source,
      );
    });

  command("history <name>", "list a document's versions, oldest first").action(
    async (name: string, opts: Flags) => {
      const versions = await ctx.withApi(remoteFlags(opts), (api) => api.config.history(name));
      emit(
        ctx.output(opts),
        () => versions,
        () =>
          formatTable([
            ["version", "created", "author", "format", "sha256", "restored"],
            ...versions.map((v) => [
              String(v.version),
              v.createdAt.toISOString(),
              v.author,
              v.format,
              shortSha(v.sha256),
              v.restoredFrom === undefined ? "-" : `from ${v.restoredFrom}`,
            ]),
          ]),
      );
    },
  );

  command(
    "diff <name> <from> <to>",
    "paths added (+), removed (-) and changed (~) between two versions",
  ).action(async (name: string, from: string, to: string, opts: Flags) => {
    const d = await ctx.withApi(remoteFlags(opts), (api) =>
      api.config.diff(name, version(from, "from"), version(to, "to")),
    );
    emit(
      ctx.output(opts),
      () => d,
      () => diffText(d),
    );
  });

  command("rollback <name> <version>", "store an earlier version's content as the new latest version")
    .option("--author <name>", "author recorded (local mode; a service records the key's service)", "cli")
    .action(async (name: string, to: string, opts: Flags & { author: string }) => {
      const v = await ctx.withApi(remoteFlags(opts), (api) =>
        api.config.rollback(name, version(to), opts.author),
      );
      emit(
        ctx.output(opts),
        () => v,
        () =>
          `rolled ${v.name} back to version ${v.restoredFrom}: now version ${v.version}\n${formatFields(versionFields(v))}`,
      );
    });

  command(
    "flag <flag> <subject>",
    "evaluate a feature flag (the document flags/<flag>) for a subject",
  ).action(async (flag: string, subject: string, opts: Flags) => {
    const e = await ctx.withApi(remoteFlags(opts), (api) => api.config.evaluateFlag(flag, subject));
    emit(
      ctx.output(opts),
      () => e,
      () => `${e.enabled ? "on" : "off"} (${e.reason}, version ${e.version})\n`,
    );
  });
}
