import type { Command } from "commander";
import { type BucketReport, foundCount, orphanCount } from "../../core/reconcile.ts";
import { reportJson } from "../../core/reconcile-buckets.ts";
import { StorageError } from "../../errors.ts";
import type { CliContext } from "../context.ts";
import { emit, formatTable } from "../output.ts";
import { commonOptions, parseHours, remoteFlags, remoteOptions } from "./args.ts";

interface ReconcileOptions {
  repair?: boolean;
  deleteUnindexed?: boolean;
  staleUploadHours?: string;
  json?: boolean;
  endpoint?: string;
  token?: string;
}

/** Keys listed per category in text output; --json has the report's own (up to 1000 per category). */
const MAX_LISTED = 20;

const CATEGORIES = [
  ["rowsWithoutObjects", "row without object"],
  ["objectsWithoutRows", "object without row"],
  ["mismatched", "size mismatch"],
  ["staleUploads", "stale upload"],
] as const;

export function reconcileText(reports: readonly BucketReport[], repair: boolean): string {
  const header = [
    "bucket",
    "objects",
    "rows",
    "rows-no-object",
    "objects-no-row",
    "mismatched",
    "stale-uploads",
  ];
  const rows = reports.map((r) => [
    r.bucket,
    String(r.objects),
    String(r.rows),
    String(foundCount(r, "rowsWithoutObjects")),
    String(foundCount(r, "objectsWithoutRows")),
    String(foundCount(r, "mismatched")),
    String(foundCount(r, "staleUploads")),
    ...(repair ? [String(r.repaired)] : []),
  ]);
  let text = formatTable(
    [[...header, ...(repair ? ["repaired"] : [])], ...rows],
    ["left", "right", "right", "right", "right", "right", "right", "right"],
  );
  for (const r of reports) {
    for (const [field, label] of CATEGORIES) {
      const keys = r[field];
      for (const key of keys.slice(0, MAX_LISTED)) text += `${r.bucket}: ${label}: ${key}\n`;
      const found = foundCount(r, field);
      if (found > MAX_LISTED) text += `${r.bucket}: ... and ${found - MAX_LISTED} more (${label})\n`;
    }
  }
  const orphans = reports.reduce((n, r) => n + orphanCount(r), 0);
  text += `orphans: ${orphans}\n`;
  if (repair) text += `repaired: ${reports.reduce((n, r) => n + r.repaired, 0)}\n`;
  else if (orphans > 0) text += "dry run: nothing was changed; run again with --repair to fix\n";
  return text;
}

export function registerReconcile(program: Command, ctx: CliContext): void {
  remoteOptions(
    commonOptions(
      program
        .command("reconcile [bucket...]")
        .description(
          "compare the object store with the metadata index (default: every configured bucket that exists); a dry run unless --repair",
        )
        .option(
          "--repair",
          "fix what is found: adopt unindexed objects, drop rows without objects, abort stale uploads",
        )
        .option(
          "--delete-unindexed",
          "with --repair: delete objects the index does not know instead of adopting them",
        )
        .option(
          "--stale-upload-hours <n>",
          "incomplete multipart uploads older than this are stale (default 24)",
        ),
    ),
  ).action(async (named: string[], opts: ReconcileOptions) => {
    if (opts.deleteUnindexed && !opts.repair) {
      throw new StorageError("INVALID_ARGUMENT", "--delete-unindexed only applies together with --repair.", {
        field: "delete-unindexed",
      });
    }
    const staleUploadHours =
      opts.staleUploadHours === undefined
        ? undefined
        : parseHours(opts.staleUploadHours, "stale-upload-hours");
    const repair = opts.repair === true;
    const reports = await ctx.withApi(remoteFlags(opts), (api) =>
      api.reconcile({
        buckets: named,
        repair,
        deleteUnindexed: opts.deleteUnindexed === true,
        ...(staleUploadHours === undefined ? {} : { staleUploadHours }),
      }),
    );
    // A dry run that finds orphans still exits 0: it is a report, not a failure.
    emit(
      ctx.output(opts),
      () => reports.map(reportJson),
      () => reconcileText(reports, repair),
    );
  });
}
