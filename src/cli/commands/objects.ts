import type { Command } from "commander";
import type { CliContext } from "../context.ts";
import { emit, formatFields, objectInfoFields, objectInfoJson } from "../output.ts";
import { commonOptions, parseExpires, parseMethod, remoteFlags, remoteOptions } from "./args.ts";

/** stat, rm, cp and presign: single calls on one object that print what the service returned. */

interface VersionOptions {
  version?: string;
  json?: boolean;
  endpoint?: string;
  token?: string;
}

const versioned = (version: string | undefined) => (version ? { versionId: version } : {});

function registerStat(program: Command, ctx: CliContext): void {
  remoteOptions(
    commonOptions(
      program
        .command("stat <bucket> <key>")
        .description("show an object's size, checksums, type, owner and metadata")
        .option("--version <id>", "a specific version"),
    ),
  ).action(async (bucket: string, key: string, opts: VersionOptions) => {
    const info = await ctx.withApi(remoteFlags(opts), (api) => api.stat(bucket, key, opts.version));
    emit(
      ctx.output(opts),
      () => objectInfoJson(info),
      () => formatFields(objectInfoFields(info)),
    );
  });
}

function registerRm(program: Command, ctx: CliContext): void {
  remoteOptions(
    commonOptions(
      program
        .command("rm <bucket> <key>")
        .description("delete an object (in a versioned bucket: add a delete marker, or remove --version)")
        .option("--version <id>", "remove this version for good"),
    ),
  ).action(async (bucket: string, key: string, opts: VersionOptions) => {
    const result = await ctx.withApi(remoteFlags(opts), (api) => api.rm(bucket, key, opts.version));
    emit(
      ctx.output(opts),
      () => ({ bucket, key, versionId: result.versionId ?? null, deleteMarker: result.deleteMarker }),
      () =>
        formatFields([
          ["deleted", `${bucket}/${key}`],
          ...(result.versionId ? [["versionId", result.versionId] as const] : []),
          ["deleteMarker", String(result.deleteMarker)],
        ]),
    );
  });
}

function registerCp(program: Command, ctx: CliContext): void {
  remoteOptions(
    commonOptions(
      program
        .command("cp <srcBucket> <srcKey> <dstBucket> <dstKey>")
        .description("copy an object inside the store (no download), keeping its type and metadata")
        .option("--version <id>", "copy this version of the source")
        .option(
          "--owner <name>",
          "owner recorded for the copy (local mode; a service records the key's service)",
          "cli",
        ),
    ),
  ).action(
    async (
      srcBucket: string,
      srcKey: string,
      dstBucket: string,
      dstKey: string,
      opts: VersionOptions & { owner: string },
    ) => {
      const info = await ctx.withApi(remoteFlags(opts), (api) =>
        api.cp(
          { bucket: srcBucket, key: srcKey, ...versioned(opts.version) },
          { bucket: dstBucket, key: dstKey },
          opts.owner,
        ),
      );
      emit(
        ctx.output(opts),
        () => objectInfoJson(info),
        () => formatFields(objectInfoFields(info)),
      );
    },
  );
}

interface PresignOptions extends VersionOptions {
  method: string;
  expires?: string;
  contentType?: string;
}

function registerPresign(program: Command, ctx: CliContext): void {
  remoteOptions(
    commonOptions(
      program
        .command("presign <bucket> <key>")
        .description(
          "print a time-limited URL that reads (GET) or writes (PUT) the object without credentials",
        )
        .option("--method <method>", "GET or PUT", "GET")
        .option("--expires <seconds>", "lifetime in seconds, or a duration such as 15m (default: config)")
        .option("--version <id>", "a specific version (GET)")
        .option("--content-type <type>", "the content type the uploader must send (PUT)"),
    ),
  ).action(async (bucket: string, key: string, opts: PresignOptions) => {
    const method = parseMethod(opts.method);
    const expires = opts.expires === undefined ? undefined : parseExpires(opts.expires);
    const url = await ctx.withApi(remoteFlags(opts), (api) =>
      api.presign(bucket, key, {
        method,
        ...(expires === undefined ? {} : { expiresInSeconds: expires }),
        ...versioned(opts.version),
        ...(opts.contentType ? { contentType: opts.contentType } : {}),
      }),
    );
    // Text is the bare URL, so `curl "$(lumenslate-storage presign b k)"` works.
    emit(
      ctx.output(opts),
      () => ({ url: url.url, method: url.method, expiresAt: url.expiresAt }),
      () => `${url.url}\n`,
    );
  });
}

export function registerObjectCommands(program: Command, ctx: CliContext): void {
  registerStat(program, ctx);
  registerRm(program, ctx);
  registerCp(program, ctx);
  registerPresign(program, ctx);
}
