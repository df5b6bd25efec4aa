import { pipeline } from "node:stream/promises";
import type { Command } from "commander";
import { asStorageError, StorageError } from "../../errors.ts";
import type { CliContext } from "../context.ts";
import { writeFileAtomically } from "../files.ts";
import { emit, formatFields, sizeText } from "../output.ts";
import { commonOptions, parseExpires, parseInteger, remoteFlags, remoteOptions } from "./args.ts";

/**
 * `temp put|get|sweep`: uploads with a time to live (stores/temp), locally or through a service's
 * /v1/temp routes. Reads are refused from the expiry on; `sweep` deletes what has expired.
 */

type Flags = { json?: boolean; endpoint?: string; token?: string };

function parseInstant(text: string): Date {
  const at = new Date(text);
  if (!/^\d{4}-\d{2}-\d{2}T/.test(text) || Number.isNaN(at.getTime())) {
    throw new StorageError(
      "INVALID_ARGUMENT",
      `--expires-at expects an ISO 8601 instant such as 2030-01-31T12:00:00Z, got '${text}'.`,
      { field: "expires-at" },
    );
  }
  return at;
}

export function registerTemp(program: Command, ctx: CliContext): void {
  const temp = program
    .command("temp")
    .description("temp storage: uploads with a time to live, refused once expired, swept away");
  const command = (name: string, description: string) =>
    remoteOptions(commonOptions(temp.command(name).description(description)));

  command("put <file> <key>", "upload a file to the temp bucket with a time to live")
    .option(
      "--ttl <duration>",
      "time to live: seconds or a duration such as 15m or 2h (default TEMP_DEFAULT_TTL)",
    )
    .option("--expires-at <instant>", "or the instant it expires (ISO 8601); not with --ttl")
    .option("--content-type <type>", "Content-Type to record (default: sniffed)")
    .option("--owner <name>", "owner recorded (local mode; a service records the key's service)", "cli")
    .action(
      async (
        file: string,
        key: string,
        opts: Flags & { ttl?: string; expiresAt?: string; contentType?: string; owner: string },
      ) => {
        const ttlSeconds = opts.ttl === undefined ? undefined : parseExpires(opts.ttl);
        const expiresAt = opts.expiresAt === undefined ? undefined : parseInstant(opts.expiresAt);
        const stored = await ctx.withApi(remoteFlags(opts), (api, signal) =>
          api.temp.put({
            file,
            key,
            owner: opts.owner,
            signal,
            ...(ttlSeconds === undefined ? {} : { ttlSeconds }),
            ...(expiresAt === undefined ? {} : { expiresAt }),
            ...(opts.contentType ? { contentType: opts.contentType } : {}),
          }),
        );
        emit(
          ctx.output(opts),
          () => ({ key: stored.info.key, size: stored.info.size, expiresAt: stored.expiresAt }),
          () =>
            formatFields([
              ["key", stored.info.key],
              ["size", sizeText(stored.info.size)],
              ["expiresAt", stored.expiresAt.toISOString()],
            ]),
        );
      },
    );

  command("get <key> <file>", "download a temp object ('-' for stdout); refused once it has expired").action(
    async (key: string, file: string, opts: Flags) => {
      const result = await ctx.withApi(remoteFlags(opts), async (api, signal) => {
        const got = await api.temp.get(key, signal);
        if (file === "-") {
          await pipeline(got.body, ctx.io.stdout, { signal }).catch((err: unknown) => {
            if ((err as { code?: string }).code === "EPIPE") return;
            throw asStorageError(err);
          });
          return { got, written: got.size };
        }
        return { got, written: await writeFileAtomically(got.body, file, { signal }) };
      });
      if (file === "-") return;
      const expiresAt = result.got.expiresAt?.toISOString() ?? "-";
      emit(
        ctx.output(opts),
        () => ({ key, file, size: result.written, expiresAt: result.got.expiresAt ?? null }),
        () => `wrote ${file} (${sizeText(result.written)}, expires ${expiresAt})\n`,
      );
    },
  );

  command("sweep", "delete expired temp objects now (batched; --dry-run only reports)")
    .option("--dry-run", "report what would be deleted; delete nothing")
    .option("--batch-size <n>", "objects examined per batch (1-1000)", "100")
    .action(async (opts: Flags & { dryRun?: boolean; batchSize: string }) => {
      const batchSize = parseInteger(opts.batchSize, "batch-size", 1, 1000);
      const dryRun = opts.dryRun === true;
      const report = await ctx.withApi(remoteFlags(opts), (api) => api.temp.sweep({ dryRun, batchSize }));
      emit(
        ctx.output(opts),
        () => report,
        () =>
          `${dryRun ? "would delete" : "deleted"} ${report.deleted} expired objects (${sizeText(report.bytes)})` +
          ` from ${report.bucket}; ${report.gone} already gone, ${report.renewed} renewed, ${report.failed} failed\n`,
      );
    });
}
