import type { Command } from "commander";
import { formatBytes } from "../../config/size.ts";
import type { ListResult, ObjectSummary } from "../../core/types.ts";
import type { CliContext } from "../context.ts";
import { emit, formatTable, objectSummaryJson, shortSha } from "../output.ts";
import { commonOptions, parseInteger, remoteFlags, remoteOptions } from "./args.ts";

interface LsOptions {
  recursive?: boolean;
  limit?: string;
  cursor?: string;
  all?: boolean;
  json?: boolean;
  endpoint?: string;
  token?: string;
}

const DATE_WIDTH = 24; // toISOString() is always 24 characters
const SIZE_WIDTH = 10; // "1023.9 GiB"
const SHA_WIDTH = 12;

/**
 * One line per prefix or object: lastModified, size, short sha256, key. Fixed widths (the key,
 * the only unbounded column, comes last) keep the columns aligned across pages printed as they come.
 */
export function lsLines(page: Pick<ListResult, "objects" | "prefixes">): string {
  const rows = [
    ...page.prefixes.map((p) => ["".padEnd(DATE_WIDTH), "PRE".padStart(SIZE_WIDTH), "".padEnd(SHA_WIDTH), p]),
    ...page.objects.map((o: ObjectSummary) => [
      o.lastModified.toISOString(),
      formatBytes(o.size).padStart(SIZE_WIDTH),
      shortSha(o.sha256).padEnd(SHA_WIDTH),
      o.key,
    ]),
  ];
  return formatTable(rows);
}

/** The `ls --json` document. */
export const listJson = (result: ListResult) => ({
  objects: result.objects.map(objectSummaryJson),
  prefixes: result.prefixes,
  nextCursor: result.nextCursor ?? null,
});

export function registerLs(program: Command, ctx: CliContext): void {
  remoteOptions(
    commonOptions(
      program
        .command("ls <bucket> [prefix]")
        .description("list objects (from the metadata index) and, unless --recursive, common prefixes")
        .option("-r, --recursive", "every key under the prefix, not just one level")
        .option("--limit <n>", "page size (1-1000)")
        .option("--cursor <cursor>", "continue from a previous page's nextCursor")
        .option("--all", "follow cursors to the end"),
    ),
  ).action(async (bucket: string, prefix: string | undefined, opts: LsOptions) => {
    const limit = opts.limit === undefined ? undefined : parseInteger(opts.limit, "limit", 1, 1000);
    const out = ctx.output(opts);
    const result = await ctx.withApi(remoteFlags(opts), async (api) => {
      const all: ListResult = { objects: [], prefixes: [] };
      let cursor = opts.cursor;
      do {
        const page = await api.ls(bucket, {
          recursive: opts.recursive === true,
          ...(prefix ? { prefix } : {}),
          ...(cursor ? { cursor } : {}),
          ...(limit ? { limit } : {}),
        });
        // Text goes out page by page; JSON must be one document, so it is gathered.
        if (out.json) {
          all.objects.push(...page.objects);
          all.prefixes.push(...page.prefixes);
        } else {
          out.stdout.write(lsLines(page));
        }
        cursor = page.nextCursor;
      } while (opts.all && cursor);
      if (cursor) all.nextCursor = cursor;
      return all;
    });
    if (!out.json) {
      if (result.nextCursor) out.stderr.write(`more results: --cursor ${result.nextCursor}\n`);
      return;
    }
    emit(
      out,
      () => listJson(result),
      () => "",
    );
  });
}
