import { createWriteStream } from "node:fs";
import { rename, rm } from "node:fs/promises";
import type { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import type { Command } from "commander";
import { asStorageError } from "../../errors.ts";
import type { CliContext } from "../context.ts";
import { emit, formatFields, objectInfoFields, objectInfoJson, sizeText } from "../output.ts";
import { shouldShowProgress, startProgress } from "../progress.ts";
import { commonOptions, parseRange } from "./args.ts";

interface GetOptions {
  version?: string;
  range?: string;
  json?: boolean;
}

/**
 * Like StorageService.downloadToFile (a temp file beside the target, renamed only after the whole,
 * verified body arrived), plus a byte count for the progress bar, which downloadToFile cannot report.
 */
export async function writeFileAtomically(
  body: Readable,
  path: string,
  options: { signal?: AbortSignal; onProgress?: (bytes: number) => void } = {},
): Promise<number> {
  const temp = `${path}.partial-${process.pid}-${Date.now()}`;
  let bytes = 0;
  try {
    await pipeline(
      body,
      async function* (source: AsyncIterable<Buffer>) {
        for await (const chunk of source) {
          bytes += chunk.length;
          options.onProgress?.(bytes);
          yield chunk;
        }
      },
      createWriteStream(temp, { flags: "wx" }),
      { signal: options.signal },
    );
    await rename(temp, path);
  } catch (err) {
    body.destroy();
    await rm(temp, { force: true });
    throw asStorageError(err);
  }
  return bytes;
}

export function registerGet(program: Command, ctx: CliContext): void {
  commonOptions(
    program
      .command("get <bucket> <key> <file>")
      .description("download an object to a file ('-' for stdout); full reads are verified by sha256")
      .option("--version <id>", "a specific version")
      .option("--range <start-end>", "only these bytes (inclusive; 'start-' reads to the end)"),
  ).action(async (bucket: string, key: string, file: string, opts: GetOptions) => {
    const range = opts.range === undefined ? undefined : parseRange(opts.range);
    const out = ctx.output(opts);
    const toStdout = file === "-";
    const result = await ctx.withApp("one-shot", async (app, signal) => {
      const download = await app.service.download(bucket, key, {
        signal,
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
      const show = shouldShowProgress({ json: out.json, stdout: ctx.io.stdout });
      const progress = startProgress(show, "get", download.contentLength);
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
