import { pipeline } from "node:stream/promises";
import type { Command } from "commander";
import { asStorageError, StorageError } from "../../errors.ts";
import type { CliContext } from "../context.ts";
import { writeFileAtomically } from "../files.ts";
import { emit, formatFields, objectInfoFields, objectInfoJson, sizeText } from "../output.ts";
import { shouldShowProgress, startProgress } from "../progress.ts";
import { downloadTree, parseRemotePlace } from "../tree.ts";
import {
  commonOptions,
  parseConcurrency,
  parseRange,
  parseTransfer,
  remoteFlags,
  remoteOptions,
  transferOptions,
} from "./args.ts";
import { emitTreeSummary } from "./mirror.ts";

interface GetOptions {
  version?: string;
  range?: string;
  recursive?: boolean;
  concurrency: string;
  direct?: boolean;
  proxy?: boolean;
  json?: boolean;
  endpoint?: string;
  token?: string;
}

const usage = (message: string) => new StorageError("INVALID_ARGUMENT", message, { field: "arguments" });

export function registerGet(program: Command, ctx: CliContext): void {
  transferOptions(
    remoteOptions(
      commonOptions(
        program
          .command("get <bucket> <key> [file]")
          .usage(
            "[options] <bucket> <key> <file>\n       lumenslate-storage get -r [options] <bucket[/prefix]> <dir>",
          )
          .description(
            "download an object to a file ('-' for stdout; full reads are verified by sha256), or with -r every object under a prefix",
          )
          .option(
            "-r, --recursive",
            "download every object under <bucket[/prefix]> into <dir>/<relative key>",
          )
          .option("--version <id>", "a specific version")
          .option("--range <start-end>", "only these bytes (inclusive; 'start-' reads to the end)")
          .option("--concurrency <n>", "with -r: objects in flight at once (1-64)", "8"),
      ),
    ),
  ).action(async (first: string, second: string, third: string | undefined, opts: GetOptions) => {
    const transfer = parseTransfer(opts);
    const out = ctx.output(opts);
    const show = shouldShowProgress({ json: out.json, stdout: ctx.io.stdout });
    if (opts.recursive) {
      if (third !== undefined) throw usage("get -r takes two arguments: <bucket[/prefix]> <dir>.");
      if (opts.version || opts.range) throw usage("get -r takes no --version or --range.");
      const concurrency = parseConcurrency(opts.concurrency);
      const place = parseRemotePlace(first);
      const summary = await ctx.withApi(remoteFlags(opts), (api, signal) =>
        downloadTree(api, place, second, {
          concurrency,
          skipMatching: false,
          owner: "cli",
          signal,
          progress: (total) => startProgress(show, "get", total, ctx.io.stderr),
        }),
      );
      emitTreeSummary(out, summary);
      return;
    }
    if (third === undefined) throw usage("get needs <bucket> <key> <file> (or -r <bucket[/prefix]> <dir>).");
    const [bucket, key, file] = [first, second, third];
    const range = opts.range === undefined ? undefined : parseRange(opts.range);
    const toStdout = file === "-";
    const result = await ctx.withApi(remoteFlags(opts), async (api, signal) => {
      const download = await api.get(bucket, key, {
        signal,
        transfer,
        ...(opts.version ? { versionId: opts.version } : {}),
        ...(range ? { range } : {}),
      });
      if (toStdout) {
        await pipeline(download.body, ctx.io.stdout, { signal }).catch((err: unknown) => {
          // The reader went away (`| head`): not a failure of ours, so stop quietly.
          if ((err as { code?: string }).code === "EPIPE") return;
          throw asStorageError(err);
        });
        return { download, written: download.contentLength };
      }
      const progress = startProgress(show, "get", download.contentLength, ctx.io.stderr);
      try {
        const written = await writeFileAtomically(download.body, file, {
          signal,
          onProgress: (bytes) => progress.update(bytes),
        });
        return { download, written };
      } finally {
        progress.finish();
      }
    });
    if (toStdout) return; // stdout carries the bytes
    const { download, written } = result;
    emit(
      out,
      () => ({ ...objectInfoJson(download.info), file, written, range: download.range ?? null }),
      () =>
        formatFields([
          ...objectInfoFields(download.info),
          ...(download.range ? [["range", `${download.range.start}-${download.range.end}`] as const] : []),
          ["written", sizeText(written)],
          ["file", file],
        ]),
    );
  });
}
