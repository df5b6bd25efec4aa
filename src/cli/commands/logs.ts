import { pipeline } from "node:stream/promises";
import type { Command } from "commander";
import { asStorageError } from "../../errors.ts";
import type { CliContext } from "../context.ts";
import { emit, formatFields, sizeText } from "../output.ts";
import { commonOptions, parseInteger, remoteFlags, remoteOptions } from "./args.ts";

/**
 * `logs upload|read|compact|rotate`: the log archive (stores/logs), locally or through a service's
 * /v1/logs routes. Rotation is a dry run unless --apply is given.
 */

type Flags = { json?: boolean; endpoint?: string; token?: string };

export function registerLogs(program: Command, ctx: CliContext): void {
  const logs = program
    .command("logs")
    .description("log archive: log files per service, date and hour; read a day back; rotate old days");
  const command = (name: string, description: string) =>
    remoteOptions(commonOptions(logs.command(name).description(description)));

  command(
    "upload <service> <date> <hour> <file>",
    "store a log file for a service's date (YYYY-MM-DD) and hour (0-23, UTC)",
  )
    .option("--filename <name>", "the log file's name in the archive (default app)")
    .option("--owner <name>", "owner recorded (local mode; a service records the key's service)", "cli")
    .action(
      async (
        service: string,
        date: string,
        hour: string,
        file: string,
        opts: Flags & { filename?: string; owner: string },
      ) => {
        const stored = await ctx.withApi(remoteFlags(opts), (api, signal) =>
          api.logs.upload({
            service,
            date,
            hour,
            file,
            owner: opts.owner,
            signal,
            ...(opts.filename ? { filename: opts.filename } : {}),
          }),
        );
        emit(
          ctx.output(opts),
          () => stored,
          () =>
            formatFields([
              ["key", stored.key],
              ["size", sizeText(stored.size)],
            ]),
        );
      },
    );

  command("read <service> <date>", "print a day's log lines in time order (decompressed)")
    .option("--from-hour <h>", "first hour (0-23)")
    .option("--to-hour <h>", "last hour, inclusive (0-23)")
    .option("--contains <text>", "only lines containing this text")
    .option("--regex <pattern>", "only lines matching this regular expression")
    .action(
      async (
        service: string,
        date: string,
        opts: Flags & { fromHour?: string; toHour?: string; contains?: string; regex?: string },
      ) => {
        await ctx.withApi(remoteFlags(opts), async (api, signal) => {
          const text = await api.logs.read(
            {
              service,
              date,
              ...(opts.fromHour ? { fromHour: opts.fromHour } : {}),
              ...(opts.toHour ? { toHour: opts.toHour } : {}),
              ...(opts.contains ? { contains: opts.contains } : {}),
              ...(opts.regex ? { regex: opts.regex } : {}),
            },
            signal,
          );
          await pipeline(text, ctx.io.stdout, { signal, end: false }).catch((err: unknown) => {
            if ((err as { code?: string }).code === "EPIPE") return;
            throw asStorageError(err);
          });
        });
      },
    );

  command("compact <service> <date> <hour>", "merge an hour's parts into one object per file now").action(
    async (service: string, date: string, hour: string, opts: Flags) => {
      const r = await ctx.withApi(remoteFlags(opts), (api) => api.logs.compact({ service, date, hour }));
      emit(
        ctx.output(opts),
        () => r,
        () => `compacted ${r.parts} parts into ${r.objects} objects in ${r.service}/${r.date}/${r.hour}\n`,
      );
    },
  );

  command("rotate <service>", "delete date partitions older than the retention (a dry run without --apply)")
    .option("--retention-days <n>", "days to keep (default LOG_STORAGE_RETENTION_DAYS)")
    .option("--apply", "delete; without it nothing is deleted and the report says what would be")
    .action(async (service: string, opts: Flags & { retentionDays?: string; apply?: boolean }) => {
      const retentionDays =
        opts.retentionDays === undefined
          ? undefined
          : parseInteger(opts.retentionDays, "retention-days", 1, 36_500);
      const dryRun = opts.apply !== true;
      const r = await ctx.withApi(remoteFlags(opts), (api) =>
        api.logs.rotate({ service, dryRun, ...(retentionDays ? { retentionDays } : {}) }),
      );
      emit(
        ctx.output(opts),
        () => r,
        () =>
          [
            ...r.partitions.map((p) => `${p.date}  ${p.objects} objects  ${sizeText(p.bytes)}\n`),
            `${dryRun ? "would delete" : "deleted"} ${dryRun ? r.objects : r.deleted} objects (${sizeText(r.bytes)}) ` +
              `in ${r.partitions.length} partitions before ${r.cutoff}${r.failed ? `; ${r.failed} failed` : ""}\n`,
          ].join(""),
      );
    });
}
