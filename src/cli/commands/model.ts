import { pipeline } from "node:stream/promises";
import type { Command } from "commander";
import { asStorageError } from "../../errors.ts";
import type { ModelListFilter, ModelVersion } from "../../stores/models/types.ts";
import type { StorageApi } from "../api.ts";
import type { CliContext } from "../context.ts";
import { collectModelFiles, pickFiles, pullFiles } from "../model-files.ts";
import { emit, formatFields, formatTable, shortSha, sizeText } from "../output.ts";
import { shouldShowProgress, startProgress } from "../progress.ts";
import { sessionStateDir } from "../remote/model-session.ts";
import { collect, commonOptions, parseMeta, remoteFlags, remoteOptions } from "./args.ts";
import { invalid, metadataOf, type PushFlags, parseGrace, parseThreshold } from "./model-options.ts";

/**
 * `model push|pull|ls|rm|alias|gc`: the model artifact store (stores/models), locally or through a
 * service's /v1/models routes. Files are stored once by sha256 whatever version names them; pulls
 * are verified against the manifest; `gc` frees blobs that no version references any more.
 */

type Flags = { json?: boolean; endpoint?: string; token?: string };

const totalSize = (version: ModelVersion) => version.files.reduce((n, f) => n + f.size, 0);

/** Every page of a listing. */
async function listAll(api: StorageApi, filter: ModelListFilter): Promise<ModelVersion[]> {
  const versions: ModelVersion[] = [];
  let cursor: string | undefined;
  do {
    const page = await api.models.list({ ...filter, ...(cursor ? { cursor } : {}) });
    versions.push(...page.versions);
    cursor = page.nextCursor;
  } while (cursor);
  return versions;
}

function versionText(v: ModelVersion): string {
  return (
    formatFields([
      ["type", v.modelType],
      ["version", v.version],
      ["files", String(v.files.length)],
      ["size", sizeText(totalSize(v))],
      ["aliases", v.aliases.join(", ") || "-"],
      ["uploader", v.uploader],
      ["created", v.createdAt.toISOString()],
    ]) +
    formatTable(
      v.files.map((f) => [`  ${f.path}`, sizeText(f.size), shortSha(f.sha256), f.encoding]),
      ["left", "right", "left", "left"],
    )
  );
}

export function registerModel(program: Command, ctx: CliContext): void {
  const model = program
    .command("model")
    .description("model artifacts: versions of a model type, stored once by sha256, verified, with aliases");
  const command = (parent: Command, name: string, description: string) =>
    remoteOptions(commonOptions(parent.command(name).description(description)));

  command(
    model,
    "push <path...>",
    "push files (a directory: every file under it, by relative path) as a version",
  )
    .requiredOption("--type <type>", "model type (a-z, 0-9, '-', '_', '.')")
    .requiredOption("--version <version>", "the version to publish (not yet published)")
    .option("--meta <key=value>", "metadata (repeatable)", collect, [])
    .option("--metric <name=number>", "a metric such as accuracy=0.93 (repeatable)", collect, [])
    .option("--tag <tag>", "a tag (repeatable)", collect, [])
    .option("--framework <name>", "framework, e.g. pytorch")
    .option("--description <text>", "description")
    .option("--parent <version>", "the version this one derives from")
    .option("--alias <alias>", "point this alias at the new version too (repeatable)", collect, [])
    .option("--owner <name>", "uploader recorded (local mode; a service records the key's service)", "cli")
    .option(
      "--session-threshold <size>",
      "remote mode: files this large or larger go through a resumable upload session, parts straight to the object store (a cut push resumes when run again)",
      "64MiB",
    )
    .action(async (paths: string[], opts: PushFlags) => {
      const metadata = metadataOf(opts);
      const threshold = parseThreshold(opts.sessionThreshold);
      const files = await collectModelFiles(paths);
      const out = ctx.output(opts);
      const total = files.reduce((n, f) => n + f.size, 0);
      const version = await ctx.withApi(remoteFlags(opts), async (api, signal) => {
        const progress = startProgress(
          shouldShowProgress({ json: out.json, stdout: ctx.io.stdout }),
          "push",
          total,
          ctx.io.stderr,
        );
        let pushed: ModelVersion;
        try {
          pushed = await api.models.push({
            modelType: opts.type,
            version: opts.version,
            files,
            metadata,
            owner: opts.owner,
            signal,
            onProgress: (bytes) => progress.update(bytes),
            sessions: { threshold, stateDir: sessionStateDir(ctx.env) },
            onResume: (path, parts) => {
              if (!out.json) ctx.io.stderr.write(`resumed ${path}: ${parts} parts were uploaded already\n`);
            },
          });
        } finally {
          progress.finish();
        }
        for (const alias of opts.alias) await api.models.setAlias(pushed.modelType, alias, pushed.version);
        return opts.alias.length > 0 ? api.models.get(pushed.modelType, pushed.version) : pushed;
      });
      emit(
        out,
        () => version,
        () => versionText(version),
      );
    });

  command(model, "pull <type> <ref>", "download a version (or alias) to a directory, verified by sha256")
    .option("--out <dir>", "directory to write into (default: ./<type>-<version>); '-' with --file: stdout")
    .option("--file <path>", "only this file of the version")
    .action(async (type: string, ref: string, opts: Flags & { out?: string; file?: string }) => {
      if (opts.out === "-" && opts.file === undefined) throw invalid("out", "--out - needs --file <path>.");
      const out = ctx.output(opts);
      const result = await ctx.withApi(remoteFlags(opts), async (api, signal) => {
        const version = await api.models.get(type, ref);
        const files = pickFiles(version, opts.file);
        if (opts.out === "-") {
          const body = await api.models.openFile(
            type,
            version.version,
            files[0] as (typeof files)[0],
            signal,
          );
          await pipeline(body, ctx.io.stdout, { signal }).catch((err: unknown) => {
            if ((err as { code?: string }).code === "EPIPE") return;
            throw asStorageError(err);
          });
          return undefined;
        }
        const dir = opts.out ?? `${version.modelType}-${version.version}`;
        const progress = startProgress(
          shouldShowProgress({ json: out.json, stdout: ctx.io.stdout }),
          "pull",
          files.reduce((n, f) => n + f.size, 0),
          ctx.io.stderr,
        );
        try {
          const written = await pullFiles(api.models, version, files, dir, {
            signal,
            onProgress: (bytes) => progress.update(bytes),
          });
          return { version, dir, written };
        } finally {
          progress.finish();
        }
      });
      if (!result) return; // stdout carried the bytes
      const { version, dir, written } = result;
      emit(
        out,
        () => ({ modelType: version.modelType, version: version.version, dir, files: written }),
        () =>
          `pulled ${version.modelType} ${version.version} into ${dir}: ${written.length} files, ` +
          `${sizeText(written.reduce((n, f) => n + f.size, 0))}, sha256 verified\n`,
      );
    });

  command(model, "ls", "list versions, newest first")
    .option("--type <type>", "only this model type")
    .option("--tag <tag>", "only versions with this tag")
    .option("--meta <key=value>", "only versions whose metadata has this value")
    .action(async (opts: Flags & { type?: string; tag?: string; meta?: string }) => {
      const meta = opts.meta === undefined ? undefined : Object.entries(parseMeta([opts.meta]))[0];
      const versions = await ctx.withApi(remoteFlags(opts), (api) =>
        listAll(api, {
          ...(opts.type ? { modelType: opts.type } : {}),
          ...(opts.tag ? { tag: opts.tag } : {}),
          ...(meta ? { metadata: { key: meta[0], value: meta[1] } } : {}),
        }),
      );
      emit(
        ctx.output(opts),
        () => ({ versions }),
        () =>
          versions.length === 0
            ? "no model versions\n"
            : formatTable(
                [
                  ["TYPE", "VERSION", "FILES", "SIZE", "CREATED", "ALIASES"],
                  ...versions.map((v) => [
                    v.modelType,
                    v.version,
                    String(v.files.length),
                    sizeText(totalSize(v)),
                    v.createdAt.toISOString(),
                    v.aliases.join(",") || "-",
                  ]),
                ],
                ["left", "left", "right", "right", "left", "left"],
              ),
      );
    });

  command(model, "rm <type> <version>", "delete a version's manifest (its blobs go at the next gc)")
    .option("--force", "delete even when an alias points at it")
    .action(async (type: string, version: string, opts: Flags & { force?: boolean }) => {
      const force = opts.force === true;
      await ctx.withApi(remoteFlags(opts), (api) => api.models.remove(type, version, force));
      emit(
        ctx.output(opts),
        () => ({ modelType: type, version, deleted: true }),
        () => `deleted ${type} ${version}\n`,
      );
    });

  const alias = model.command("alias").description("movable names for versions (latest is kept for you)");
  command(alias, "set <type> <alias> <version>", "point an alias at a version").action(
    async (type: string, name: string, version: string, opts: Flags) => {
      await ctx.withApi(remoteFlags(opts), (api) => api.models.setAlias(type, name, version));
      emit(
        ctx.output(opts),
        () => ({ modelType: type, alias: name, version }),
        () => `${type} ${name} -> ${version}\n`,
      );
    },
  );
  command(alias, "rm <type> <alias>", "remove an alias (the version stays)").action(
    async (type: string, name: string, opts: Flags) => {
      await ctx.withApi(remoteFlags(opts), (api) => api.models.removeAlias(type, name));
      emit(
        ctx.output(opts),
        () => ({ modelType: type, alias: name, deleted: true }),
        () => `removed alias ${type} ${name}\n`,
      );
    },
  );

  command(model, "gc", "find blobs no version references (a dry run unless --apply) and delete them")
    .option("--apply", "delete them; without it, only report")
    .option("--grace <duration>", "keep blobs younger than this (seconds or e.g. 1h; default: the store's)")
    .action(async (opts: Flags & { apply?: boolean; grace?: string }) => {
      const apply = opts.apply === true;
      const graceSeconds = opts.grace === undefined ? undefined : parseGrace(opts.grace);
      const report = await ctx.withApi(remoteFlags(opts), (api) =>
        api.models.gc({ apply, ...(graceSeconds === undefined ? {} : { graceSeconds }) }),
      );
      emit(
        ctx.output(opts),
        () => ({ dryRun: !apply, ...report }),
        () =>
          `${apply ? "deleted" : "would delete"} ${report.blobs} unreferenced blobs (${sizeText(report.bytes)})\n` +
          report.keys.map((k) => `  ${k}\n`).join(""),
      );
    });
}
