import type { Transfer } from "./external-clients.ts";
import type { SmallResult } from "./small-objects.ts";

/**
 * The transport benchmark's markdown tables. Every comparison shows its ratio to the direct client
 * and the target from issue 17; CPU columns are medians over the rounds, like the rates.
 */

export type LargeSample = Transfer & { serverCpu: number | undefined; minioCpu: number | undefined };

export interface LargePair {
  directLabel: string;
  serviceLabel: string;
  up: number;
  down: number;
  skipped: string | undefined;
  directSamples: { up: LargeSample[]; down: LargeSample[] } | undefined;
  serviceSamples: { up: LargeSample[]; down: LargeSample[] } | undefined;
}

export interface SmallRow {
  op: "PUT" | "GET";
  kind: "direct" | "http" | "grpc";
  runs: SmallResult[];
}

export interface RssResult {
  kind: string;
  small: number;
  large: number;
}

const GiB = 1024 ** 3;
const f = (n: number | undefined, d = 1) => (n !== undefined && Number.isFinite(n) ? n.toFixed(d) : "n/a");
const row = (cells: (string | number)[]) => `| ${cells.join(" | ")} |`;
const header = (cells: string[]) => [row(cells), row(cells.map(() => "---"))];
const verdict = (ok: boolean) => (ok ? "pass" : "fail");

export function median(xs: (number | undefined)[]): number | undefined {
  const v = xs.filter((x): x is number => x !== undefined && Number.isFinite(x)).sort((a, b) => a - b);
  if (v.length === 0) return undefined;
  const mid = Math.floor(v.length / 2);
  return v.length % 2 === 1 ? v[mid] : ((v[mid - 1] ?? 0) + (v[mid] ?? 0)) / 2;
}

const mibs = (s: LargeSample) => s.bytes / 2 ** 20 / s.seconds;
const perGiB = (cpu: number | undefined, s: LargeSample) =>
  cpu === undefined ? undefined : cpu / (s.bytes / GiB);

export function largeTable(label: string, repeats: number, pairs: LargePair[]): string[] {
  const out = [
    "",
    `## HTTP and gRPC against direct S3 clients, ${label} (median of ${repeats})`,
    "",
    ...header([
      "transfer",
      "direct client",
      "direct MiB/s",
      "service client",
      "service MiB/s",
      "ratio",
      "target",
      "pass/fail",
      "service CPU s/GiB",
      "MinIO CPU s/GiB direct / service",
    ]),
  ];
  const hashes = new Map<string, number[]>();
  const completions = new Map<string, { complete: number; total: number }[]>();
  for (const dir of ["up", "down"] as const) {
    for (const p of pairs) {
      const name = `${dir === "up" ? "upload" : "download"} ${label}`;
      const target = p[dir];
      const d = p.directSamples?.[dir] ?? [];
      const s = p.serviceSamples?.[dir] ?? [];
      if (p.skipped || d.length === 0 || s.length === 0) {
        out.push(
          row([
            name,
            p.directLabel,
            "",
            p.serviceLabel,
            "",
            "",
            `>= ${target}`,
            `skipped: ${p.skipped ?? "no data"}`,
            "",
            "",
          ]),
        );
        continue;
      }
      for (const x of s) {
        if (x.hashSeconds !== undefined)
          hashes.set(p.serviceLabel, [
            ...(hashes.get(p.serviceLabel) ?? []),
            x.hashSeconds / (x.bytes / GiB),
          ]);
        if (x.completeSeconds !== undefined)
          completions.set(p.serviceLabel, [
            ...(completions.get(p.serviceLabel) ?? []),
            { complete: x.completeSeconds / (x.bytes / GiB), total: x.seconds / (x.bytes / GiB) },
          ]);
      }
      const dm = median(d.map(mibs));
      const sm = median(s.map(mibs));
      const ratio = dm !== undefined && sm !== undefined ? sm / dm : undefined;
      const minio = `${f(median(d.map((x) => perGiB(x.minioCpu, x))), 2)} / ${f(median(s.map((x) => perGiB(x.minioCpu, x))), 2)}`;
      out.push(
        row([
          name,
          p.directLabel,
          f(dm),
          p.serviceLabel,
          f(sm),
          f(ratio, 3),
          `>= ${target}`,
          ratio === undefined ? "n/a" : verdict(ratio >= target),
          f(median(s.map((x) => perGiB(x.serverCpu, x))), 2),
          minio,
        ]),
      );
    }
  }
  out.push(
    "",
    "Targets (issue 17): proxied HTTP >= 0.90 up, >= 0.85 down (full downloads sha256-verified by the " +
      "service); gRPC >= 0.70 both ways; the direct path >= 0.95 both ways (its upload includes the " +
      "service's read-back verification on completion; its download is a plain presigned GET). " +
      "Service CPU: the server process's user+system time per GiB moved.",
  );
  for (const [client, values] of hashes)
    out.push(
      `- ${client}: the sha256 pre-pass before an upload (the client's, outside the upload time above): ` +
        `${f(median(values), 2)} s/GiB.`,
    );
  for (const [client, values] of completions)
    out.push(
      `- ${client}: the completion call (the service's verification; inside the upload time above): ` +
        `${f(median(values.map((v) => v.complete)), 2)} of ${f(median(values.map((v) => v.total)), 2)} s/GiB.`,
    );
  return out;
}

const SMALL_TARGETS = { PUT: 0.75, GET: 0.6 } as const;
const P99_FACTOR = 2;

export function smallTable(ops: number, repeats: number, rows: SmallRow[]): string[] {
  const out = [
    "",
    `## 64 KiB objects, ${ops} PUTs then ${ops} GETs per client at concurrency 32 (median of ${repeats})`,
    "",
    ...header([
      "operation",
      "client",
      "ops/s",
      "ratio to direct",
      "p50 ms",
      "p99 ms",
      "p99 / direct p99",
      "target",
      "pass/fail",
      "service CPU ms/op",
      "MinIO CPU ms/op",
    ]),
  ];
  for (const op of ["PUT", "GET"] as const) {
    const of = (kind: SmallRow["kind"]) => rows.find((r) => r.op === op && r.kind === kind)?.runs ?? [];
    const pick = (runs: SmallResult[], get: (r: SmallResult) => number | undefined) => median(runs.map(get));
    const direct = of("direct");
    const dOps = pick(direct, (r) => r.opsPerSec);
    const dP99 = pick(direct, (r) => r.p99);
    for (const kind of ["direct", "http", "grpc"] as const) {
      const runs = of(kind);
      const ops = pick(runs, (r) => r.opsPerSec);
      const p99 = pick(runs, (r) => r.p99);
      const ratio = ops !== undefined && dOps !== undefined ? ops / dOps : undefined;
      const tail = p99 !== undefined && dP99 !== undefined ? p99 / dP99 : undefined;
      const service = kind !== "direct";
      const target = `>= ${SMALL_TARGETS[op]}, p99 <= ${P99_FACTOR}x`;
      const ok =
        ratio !== undefined && tail !== undefined && ratio >= SMALL_TARGETS[op] && tail <= P99_FACTOR;
      out.push(
        row([
          `${op} 64 KiB`,
          kind,
          f(ops),
          f(ratio, 3),
          f(
            pick(runs, (r) => r.p50),
            2,
          ),
          f(p99, 2),
          f(tail, 2),
          service ? target : "",
          service ? verdict(ok) : "",
          service
            ? f(
                pick(runs, (r) => r.serverCpuMs),
                2,
              )
            : "",
          f(
            pick(runs, (r) => r.minioCpuMs),
            2,
          ),
        ]),
      );
    }
  }
  out.push(
    "",
    "Targets (issue 17): PUT >= 0.75 and GET >= 0.60 of direct ops/s, p99 at most twice direct's. " +
      "CPU per operation: user+system time of the server process (and of MinIO) over the workload / operations.",
  );
  return out;
}

export function rssTable(label: string, smallMiB: number, rss: RssResult[]): string[] {
  const out = [
    "",
    "## Server peak RSS (MiB) during one upload + download (server process only)",
    "",
    ...header(["protocol", `${smallMiB} MiB`, label, "difference", "target", "pass/fail"]),
  ];
  for (const r of rss)
    out.push(
      row([r.kind, f(r.small), f(r.large), f(r.large - r.small), "<= 64", verdict(r.large - r.small <= 64)]),
    );
  return out;
}
