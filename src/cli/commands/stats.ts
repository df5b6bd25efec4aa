import type { Command } from "commander";
import { formatBytes } from "../../config/size.ts";
import type {
  AlertJson,
  BucketUsageJson,
  StorageStatsJson,
} from "../../transports/http/routes/stats-schemas.ts";
import type { CliContext } from "../context.ts";
import { emit, formatTable } from "../output.ts";
import { commonOptions, parseInteger, remoteFlags, remoteOptions } from "./args.ts";

/**
 * `stats [--verify]`, `usage <bucket>` and `alerts check|list`: usage from the metadata index and
 * the alert thresholds, locally or through a service (GET /v1/stats, /v1/buckets/{bucket}/usage,
 * /v1/admin/alerts).
 */

type Flags = { json?: boolean; endpoint?: string; token?: string; largest?: string };

const bytes = (n: number) => (n < 1024 ? `${n} B` : formatBytes(n));
const RIGHT = ["left", "right", "right", "right", "right", "right", "right"] as const;
const HEADER = ["", "objects", "bytes", "versions", "noncurrent", "+day", "+week"];

type Totals = Omit<BucketUsageJson, "bucket" | "prefixes" | "largest">;
const cells = (name: string, t: Totals) => [
  name,
  String(t.objects),
  bytes(t.bytes),
  String(t.versions),
  bytes(t.noncurrentBytes),
  bytes(t.growthDay.bytes),
  bytes(t.growthWeek.bytes),
];

export function usageText(u: BucketUsageJson): string {
  const rows = [
    ["prefix", ...HEADER.slice(1)],
    ...u.prefixes.map((p) => cells(p.prefix || "(top level)", p)),
  ];
  let text = `${u.bucket}\n${formatTable([...rows, cells("total", u)], [...RIGHT])}`;
  if (u.largest.length > 0) {
    text += `largest:\n${formatTable(
      u.largest.map((o) => [bytes(o.size), o.key]),
      ["right", "left"],
    )}`;
  }
  return text;
}

export function statsText(s: StorageStatsJson): string {
  const rows = [["bucket", ...HEADER.slice(1)], ...s.buckets.map((b) => cells(b.bucket, b))];
  let text = formatTable([...rows, cells("total", s.totals)], [...RIGHT]);
  if (!s.drift) return text;
  let drifted = 0;
  for (const d of s.drift) {
    for (const o of d.objectsWithoutRows)
      text += `${d.bucket}: in store, not in index: ${o.key} (${o.size} B)\n`;
    for (const o of d.rowsWithoutObjects)
      text += `${d.bucket}: in index, not in store: ${o.key} (${o.size} B)\n`;
    for (const o of d.sizeMismatched) {
      text += `${d.bucket}: size differs: ${o.key} (index ${o.indexSize} B, store ${o.storeSize} B)\n`;
    }
    if (d.byteDifference !== 0)
      text += `${d.bucket}: store holds ${d.byteDifference} B more than the index\n`;
    drifted +=
      d.objectsWithoutRows.length + d.rowsWithoutObjects.length + d.sizeMismatched.length + d.unlisted;
  }
  return `${text}drift: ${drifted} key(s)\n`;
}

export function alertsText(alerts: readonly AlertJson[]): string {
  if (alerts.length === 0) return "no alerts recorded\n";
  return formatTable([
    ["alert", "state", "since", "message"],
    ...alerts.map((a) => [a.alert, a.state, a.since, a.message]),
  ]);
}

const largestOf = (opts: Flags) =>
  opts.largest === undefined ? undefined : parseInteger(opts.largest, "largest", 0, 1000);

export function registerStats(program: Command, ctx: CliContext): void {
  remoteOptions(
    commonOptions(
      program
        .command("stats")
        .description("usage of every bucket from the metadata index: objects, bytes, versions, growth")
        .option("--verify", "also compare the index with the object store's own listing and report drift")
        .option("--largest <n>", "largest objects listed per bucket in --json (default 10)"),
    ),
  ).action(async (opts: Flags & { verify?: boolean }) => {
    const largest = largestOf(opts);
    const stats = await ctx.withApi(remoteFlags(opts), (api) =>
      api.stats.stats({ verify: opts.verify === true, ...(largest === undefined ? {} : { largest }) }),
    );
    emit(
      ctx.output(opts),
      () => stats,
      () => statsText(stats),
    );
  });

  remoteOptions(
    commonOptions(
      program
        .command("usage <bucket>")
        .description("one bucket's usage per top-level prefix, and its largest objects")
        .option("--largest <n>", "largest objects listed (default 10)"),
    ),
  ).action(async (bucket: string, opts: Flags) => {
    const usage = await ctx.withApi(remoteFlags(opts), (api) => api.stats.usage(bucket, largestOf(opts)));
    emit(
      ctx.output(opts),
      () => usage,
      () => usageText(usage),
    );
  });

  const alerts = program
    .command("alerts")
    .description("alert thresholds (ALERT_*): check now, or list alerts");
  remoteOptions(
    commonOptions(alerts.command("check").description("check every threshold now; changes are announced")),
  ).action(async (opts: Flags) => {
    const check = await ctx.withApi(remoteFlags(opts), (api) => api.stats.checkAlerts());
    emit(
      ctx.output(opts),
      () => check,
      () =>
        check.events.map((e) => `${e.state}: ${e.alert}: ${e.message}\n`).join("") + alertsText(check.alerts),
    );
  });
  remoteOptions(commonOptions(alerts.command("list").description("recorded alerts and their state"))).action(
    async (opts: Flags) => {
      const list = await ctx.withApi(remoteFlags(opts), (api) => api.stats.alerts());
      emit(
        ctx.output(opts),
        () => ({ alerts: list }),
        () => alertsText(list),
      );
    },
  );
}
