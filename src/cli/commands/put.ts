import { stat } from "node:fs/promises";
import type { Command } from "commander";
import type { ObjectInfo } from "../../core/types.ts";
import { StorageError } from "../../errors.ts";
import type { CliContext } from "../context.ts";
import { emit, formatFields, objectInfoFields, objectInfoJson } from "../output.ts";
import { shouldShowProgress, startProgress } from "../progress.ts";
import { parseRemotePlace, uploadTree } from "../tree.ts";
import {
  collect,
  commonOptions,
  parseConcurrency,
  parseMeta,
  parseTransfer,
  remoteFlags,
  remoteOptions,
  transferOptions,
} from "./args.ts";
import { emitTreeSummary } from "./mirror.ts";

interface PutOptions {
  contentType?: string;
  meta: string[];
  owner: string;
  sha256?: string;
  recursive?: boolean;
  concurrency: string;
  direct?: boolean;
  proxy?: boolean;
  json?: boolean;
  endpoint?: string;
  token?: string;
}

/** The file's size for the progress bar; a directory is refused here, a missing file by the service. */
async function fileSize(file: string): Promise<number | undefined> {
  const stats = await stat(file).catch(() => undefined);
  if (stats && !stats.isFile()) {
    throw new StorageError(
      "INVALID_ARGUMENT",
      `${file} is not a regular file (use put -r for a directory).`,
      {
        field: "path",
      },
    );
  }
  return stats?.size;
}

const usage = (message: string) => new StorageError("INVALID_ARGUMENT", message, { field: "arguments" });

export function registerPut(program: Command, ctx: CliContext): void {
  transferOptions(
    remoteOptions(
      commonOptions(
        program
          .command("put <bucket> <key> [file]")
          .usage(
            "[options] <bucket> <key> <file>\n       lumenslate-storage put -r [options] <dir> <bucket[/prefix]>",
          )
          .description(
            "upload a file (its sha256 is computed on the way and recorded with the version), or with -r every file under a directory",
          )
          .option("-r, --recursive", "upload every file under <dir> to <bucket[/prefix]>/<relative path>")
          .option("--content-type <type>", "declared content type (checked against the content)")
          .option("--meta <key=value>", "user metadata (repeatable)", collect, [])
          .option(
            "--owner <name>",
            "owner recorded for the version (local mode; a service records the key's service)",
            "cli",
          )
          .option("--sha256 <hex>", "expected sha256: a file with another digest is refused and not stored")
          .option("--concurrency <n>", "with -r: files in flight at once (1-64)", "8"),
      ),
    ),
  ).action(async (first: string, second: string, third: string | undefined, opts: PutOptions) => {
    const transfer = parseTransfer(opts);
    if (opts.recursive) {
      if (third !== undefined) throw usage("put -r takes two arguments: <dir> <bucket[/prefix]>.");
      const concurrency = parseConcurrency(opts.concurrency);
      const place = parseRemotePlace(second);
      const out = ctx.output(opts);
      const show = shouldShowProgress({ json: out.json, stdout: ctx.io.stdout });
      const summary = await ctx.withApi(remoteFlags(opts), (api, signal) =>
        uploadTree(api, first, place, {
          concurrency,
          skipMatching: false,
          owner: opts.owner,
          signal,
          progress: (total) => startProgress(show, "put", total, ctx.io.stderr),
        }),
      );
      emitTreeSummary(out, summary);
      return;
    }
    if (third === undefined) throw usage("put needs <bucket> <key> <file> (or -r <dir> <bucket[/prefix]>).");
    const [bucket, key, file] = [first, second, third];
    const metadata = parseMeta(opts.meta);
    const out = ctx.output(opts);
    const total = await fileSize(file);
    const info: ObjectInfo = await ctx.withApi(remoteFlags(opts), async (api, signal) => {
      const progress = startProgress(
        shouldShowProgress({ json: out.json, stdout: ctx.io.stdout }),
        "put",
        total,
        ctx.io.stderr,
      );
      try {
        return await api.put({
          file,
          bucket,
          key,
          metadata,
          owner: opts.owner,
          signal,
          onProgress: (bytes) => progress.update(bytes),
          transfer,
          ...(opts.contentType ? { contentType: opts.contentType } : {}),
          ...(opts.sha256 ? { expectedSha256: opts.sha256 } : {}),
        });
      } finally {
        progress.finish();
      }
    });
    emit(
      out,
      () => objectInfoJson(info),
      () => formatFields(objectInfoFields(info)),
    );
  });
}
