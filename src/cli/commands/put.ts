import { stat } from "node:fs/promises";
import type { Command } from "commander";
import type { ObjectInfo } from "../../core/types.ts";
import { StorageError } from "../../errors.ts";
import type { CliContext } from "../context.ts";
import { emit, formatFields, objectInfoFields, objectInfoJson } from "../output.ts";
import { shouldShowProgress, startProgress } from "../progress.ts";
import { collect, commonOptions, parseMeta } from "./args.ts";

interface PutOptions {
  contentType?: string;
  meta: string[];
  owner: string;
  sha256?: string;
  json?: boolean;
}

/** The file's size for the progress bar; a directory is refused here, a missing file by the service. */
async function fileSize(file: string): Promise<number | undefined> {
  const stats = await stat(file).catch(() => undefined);
  if (stats && !stats.isFile()) {
    throw new StorageError("INVALID_ARGUMENT", `${file} is not a regular file.`, { field: "path" });
  }
  return stats?.size;
}

export function registerPut(program: Command, ctx: CliContext): void {
  commonOptions(
    program
      .command("put <bucket> <key> <file>")
      .description("upload a file; its sha256 is computed on the way and recorded with the version")
      .option("--content-type <type>", "declared content type (checked against the content)")
      .option("--meta <key=value>", "user metadata (repeatable)", collect, [])
      .option("--owner <name>", "owner recorded for the version", "cli")
      .option("--sha256 <hex>", "expected sha256: a file with another digest is refused and not stored"),
  ).action(async (bucket: string, key: string, file: string, opts: PutOptions) => {
    const metadata = parseMeta(opts.meta);
    const out = ctx.output(opts);
    const total = await fileSize(file);
    const info: ObjectInfo = await ctx.withApp("one-shot", async (app, signal) => {
      const progress = startProgress(
        shouldShowProgress({ json: out.json, stdout: ctx.io.stdout }),
        "put",
        total,
      );
      try {
        return await app.service.uploadFile(file, {
          bucket,
          key,
          metadata,
          owner: opts.owner,
          signal,
          onProgress: (bytes) => progress.update(bytes),
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
