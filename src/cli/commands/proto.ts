import { mkdir, readdir, readFile, rm, stat } from "node:fs/promises";
import { dirname, isAbsolute, join, relative, resolve, sep } from "node:path";
import type { Command } from "commander";
import { StorageError } from "../../errors.ts";
import type { ProtoDiff, ProtoFileInput, ProtoVersion } from "../../stores/proto/types.ts";
import type { CliContext } from "../context.ts";
import { sha256File, writeFileAtomically } from "../files.ts";
import { emit, formatFields, formatTable, shortSha } from "../output.ts";
import { commonOptions, remoteFlags, remoteOptions } from "./args.ts";

/**
 * `proto push|versions|pull|diff`: the proto registry (stores/proto), locally or through a
 * service's /v1/protos routes. A push sends the whole set at once: the registry compiles it, checks
 * it against the latest earlier version and stores all of it or nothing.
 */

type Flags = { json?: boolean; endpoint?: string; token?: string };

const invalid = (field: string, message: string) => new StorageError("INVALID_ARGUMENT", message, { field });

/** A registry file name: the path below its root, with forward slashes whatever the OS. */
const protoName = (root: string, path: string) => relative(root, path).split(sep).join("/");

/**
 * The set to publish: a directory contributes every .proto below it, named by its path inside the
 * directory (as its imports name it); a file is named by its path inside `root`.
 */
export async function collectProtoFiles(paths: readonly string[], root: string): Promise<ProtoFileInput[]> {
  const found = new Map<string, string>();
  const add = (name: string, path: string) => {
    const earlier = found.get(name);
    if (earlier !== undefined && earlier !== path) {
      throw invalid("files", `Two files would both be published as ${name}: ${earlier} and ${path}.`);
    }
    found.set(name, path);
  };
  for (const path of paths) {
    const info = await stat(path).catch((err: NodeJS.ErrnoException) => {
      throw invalid("files", `Cannot read ${path}: ${err.code ?? err.message}.`);
    });
    if (info.isDirectory()) {
      const entries = await readdir(path, { recursive: true, withFileTypes: true });
      for (const entry of entries) {
        if (entry.isFile() && entry.name.endsWith(".proto")) {
          const file = join(entry.parentPath, entry.name);
          add(protoName(path, file), file);
        }
      }
      continue;
    }
    const name = protoName(root, resolve(path));
    if (name.startsWith("../") || isAbsolute(name)) {
      throw invalid(
        "files",
        `${path} is outside ${root}: pass its directory, or --root a directory that holds it (imports name files by their path there).`,
      );
    }
    add(name, path);
  }
  if (found.size === 0) throw invalid("files", "No .proto files found in what was given.");
  const names = [...found.keys()].sort();
  return Promise.all(
    names.map(async (filename) => ({ filename, content: await readFile(found.get(filename) as string) })),
  );
}

const generatedText = (v: ProtoVersion) =>
  v.generated.length === 0
    ? "none"
    : v.generated.map((g) => (g.ok ? `${g.language} (${g.files} files)` : `${g.language} failed`)).join(", ");

function versionFields(v: ProtoVersion): [string, string][] {
  return [
    ["service", v.service],
    ["version", v.version],
    ["createdAt", v.createdAt.toISOString()],
    ["digest", v.digest],
    ["uploader", v.uploader],
    ["files", v.files.map((f) => f.filename).join(" ")],
    ["breaking", v.breakingOverridden ? `overridden: ${v.breakingViolations.join("; ")}` : "none"],
    ["generated", generatedText(v)],
  ];
}

function diffText(diff: ProtoDiff): string {
  const lines: string[] = [];
  for (const [sign, part] of [
    ["+", diff.added],
    ["-", diff.removed],
  ] as const) {
    for (const kind of ["services", "messages", "fields"] as const) {
      for (const name of part[kind]) lines.push(`${sign} ${kind.slice(0, -1)} ${name}\n`);
    }
  }
  return lines.length === 0 ? `no changes from ${diff.from} to ${diff.to}\n` : lines.join("");
}

/** `out/filename`, refusing a name that would land outside `out` (whatever a service answers). */
function placeIn(out: string, filename: string): string {
  const base = resolve(out);
  const target = resolve(base, filename);
  if (!target.startsWith(base + sep)) {
    throw new StorageError("INVALID_ARGUMENT", `Refusing to write ${filename}: it is outside ${out}.`, {
      field: "filename",
    });
  }
  return target;
}

export function registerProto(program: Command, ctx: CliContext): void {
  const proto = program
    .command("proto")
    .description("the proto registry: versioned .proto sets per service, checked and compiled on push");
  const command = (name: string, description: string) =>
    remoteOptions(commonOptions(proto.command(name).description(description)));

  command("push <service> <version> <paths...>", "publish a version: .proto files and/or directories of them")
    .option("--allow-breaking", "publish even if the breaking-change check fails (recorded in the version)")
    .option("--root <dir>", "files given one by one are named by their path inside this directory", ".")
    .option("--uploader <name>", "uploader recorded (local mode; a service records the key's service)", "cli")
    .action(
      async (
        service: string,
        version: string,
        paths: string[],
        opts: Flags & { allowBreaking?: boolean; root: string; uploader: string },
      ) => {
        const files = await collectProtoFiles(paths, resolve(opts.root));
        const result = await ctx.withApi(remoteFlags(opts), (api) =>
          api.protos.push({
            service,
            version,
            files,
            allowBreaking: opts.allowBreaking === true,
            uploader: opts.uploader,
          }),
        );
        emit(
          ctx.output(opts),
          () => ({ created: result.created, version: result.version }),
          () =>
            (result.created
              ? `published ${service} ${result.version.version}\n`
              : `${service} ${result.version.version} was already published with these files: nothing changed\n`) +
            formatFields(versionFields(result.version)),
        );
      },
    );

  command("versions <service>", "list a service's versions (lowest first)").action(
    async (service: string, opts: Flags) => {
      const versions = await ctx.withApi(remoteFlags(opts), (api) => api.protos.versions(service));
      emit(
        ctx.output(opts),
        () => versions,
        () =>
          versions.length === 0
            ? `no versions of ${service}\n`
            : formatTable([
                ["version", "created", "digest", "uploader", "files", "breaking"],
                ...versions.map((v) => [
                  v.version,
                  v.createdAt.toISOString(),
                  shortSha(v.digest),
                  v.uploader,
                  String(v.files.length),
                  v.breakingOverridden ? "overridden" : "-",
                ]),
              ]),
      );
    },
  );

  command(
    "pull <service> <version>",
    "download a version's files (or with --archive its .tar.gz); 'latest' works",
  )
    .option("--out <dir>", "where to write (created if missing)", ".")
    .option("--archive", "one .tar.gz of the sources and generated code instead of the files")
    .action(async (service: string, version: string, opts: Flags & { out: string; archive?: boolean }) => {
      const result = await ctx.withApi(remoteFlags(opts), async (api, signal) => {
        const manifest = await api.protos.manifest(service, version);
        await mkdir(opts.out, { recursive: true });
        if (opts.archive) {
          const path = placeIn(opts.out, `${service}-${manifest.version}.tar.gz`);
          const size = await writeFileAtomically(
            await api.protos.archive(service, manifest.version, signal),
            path,
            { signal },
          );
          return { manifest, archive: { path, size }, files: [] };
        }
        const files = [];
        for (const file of manifest.files) {
          const path = placeIn(opts.out, file.filename);
          await mkdir(dirname(path), { recursive: true });
          const body = await api.protos.file(service, manifest.version, file.filename, signal);
          await writeFileAtomically(body, path, { signal });
          // What the manifest promised, or no file: a partial set would compile into something else.
          if ((await sha256File(path, signal)) !== file.sha256) {
            await rm(path, { force: true });
            throw new StorageError("DATA_CORRUPTED", `${file.filename} does not match its recorded sha256.`, {
              filename: file.filename,
            });
          }
          files.push({ ...file, path });
        }
        return { manifest, archive: null, files };
      });
      emit(
        ctx.output(opts),
        () => ({ service, version: result.manifest.version, archive: result.archive, files: result.files }),
        () =>
          result.archive
            ? `wrote ${result.archive.path} (${service} ${result.manifest.version})\n`
            : result.files.map((f) => `${f.path}\n`).join(""),
      );
    });

  command(
    "diff <service> <from> <to>",
    "what changed between two versions: services, messages, fields",
  ).action(async (service: string, from: string, to: string, opts: Flags) => {
    const diff = await ctx.withApi(remoteFlags(opts), (api) => api.protos.diff(service, from, to));
    emit(
      ctx.output(opts),
      () => diff,
      () => diffText(diff),
    );
  });
}
