import type { Command } from "commander";
import { StorageError } from "../../errors.ts";
import type { CliContext } from "../context.ts";
import { emit, formatFields, type Output, sizeText } from "../output.ts";
import { shouldShowProgress, startProgress } from "../progress.ts";
import { downloadTree, parsePlace, type TreeSummary, uploadTree } from "../tree.ts";
import { commonOptions, parseConcurrency, remoteFlags, remoteOptions } from "./args.ts";

interface MirrorOptions {
  concurrency: string;
  owner: string;
  json?: boolean;
  endpoint?: string;
  token?: string;
}

/** Failures listed in text output; --json always has them all. */
const MAX_LISTED = 20;

/**
 * Prints a tree transfer's summary (put -r, get -r, mirror). When a file failed, the failures go to
 * stderr and the command fails with the first one's code, so scripts see a non-zero exit status.
 */
export function emitTreeSummary(out: Output, summary: TreeSummary): void {
  const moved = summary.direction === "upload" ? "uploaded" : "downloaded";
  emit(
    out,
    () => summary,
    () =>
      formatFields([
        ["source", summary.source],
        ["target", summary.target],
        [moved, `${summary[moved]} of ${summary.files}`],
        ["skipped", `${summary.skipped} (sha256 matches)`],
        ["failed", String(summary.failed)],
        ["bytes", sizeText(summary.bytes)],
      ]),
  );
  const first = summary.failures[0];
  if (!first) return;
  if (!out.json) {
    for (const f of summary.failures.slice(0, MAX_LISTED)) {
      out.stderr.write(`failed: ${f.path || f.key}: ${f.code}: ${f.message}\n`);
    }
    if (summary.failed > MAX_LISTED) out.stderr.write(`... and ${summary.failed - MAX_LISTED} more\n`);
  }
  throw new StorageError(
    first.code,
    `${summary.failed} of ${summary.files} files failed; the first: ${first.path || first.key}: ${first.message}`,
  );
}

export function registerMirror(program: Command, ctx: CliContext): void {
  remoteOptions(
    commonOptions(
      program
        .command("mirror <source> <target>")
        .description(
          "copy a directory tree to bucket[/prefix] or back, skipping files whose sha256 already matches (a local side is a path starting with / or ., or an existing directory)",
        )
        .option("--concurrency <n>", "files in flight at once (1-64)", "8")
        .option(
          "--owner <name>",
          "owner recorded for uploads (local mode; a service records the key's service)",
          "cli",
        ),
    ),
  ).action(async (source: string, target: string, opts: MirrorOptions) => {
    const concurrency = parseConcurrency(opts.concurrency);
    const [from, to] = await Promise.all([parsePlace(source), parsePlace(target)]);
    const out = ctx.output(opts);
    const show = shouldShowProgress({ json: out.json, stdout: ctx.io.stdout });
    const options = (signal: AbortSignal) => ({
      concurrency,
      skipMatching: true,
      owner: opts.owner,
      signal,
      progress: (total: number) => startProgress(show, "mirror", total, ctx.io.stderr),
    });
    let summary: TreeSummary;
    if ("local" in from && "remote" in to) {
      summary = await ctx.withApi(remoteFlags(opts), (api, signal) =>
        uploadTree(api, from.local, to.remote, options(signal)),
      );
    } else if ("remote" in from && "local" in to) {
      summary = await ctx.withApi(remoteFlags(opts), (api, signal) =>
        downloadTree(api, from.remote, to.local, options(signal)),
      );
    } else {
      throw new StorageError(
        "INVALID_ARGUMENT",
        "mirror copies between a local directory and bucket[/prefix]: one side must be each (write a relative directory as ./name).",
        { field: "arguments" },
      );
    }
    emitTreeSummary(out, summary);
  });
}
