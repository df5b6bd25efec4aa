import { cpuDuring } from "./proc.ts";

/**
 * Many small operations at a fixed concurrency: ops/s, latency percentiles, and the CPU the service
 * process and MinIO spent per operation (from /proc, so it does not move with the machine's other
 * load the way wall time does).
 */

export const SMALL_OBJECT = 64 * 1024;
export const CONCURRENCY = 32;

export interface SmallResult {
  opsPerSec: number;
  p50: number;
  p99: number;
  /** ms of CPU per operation (user+system), undefined where /proc could not be read. */
  serverCpuMs?: number;
  minioCpuMs?: number;
}

export const percentile = (xs: number[], p: number) =>
  [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(p * xs.length))] ?? Number.NaN;

/** Runs op(0..ops-1) with CONCURRENCY in flight. pids: [service, MinIO]. */
export async function smallWorkload(
  op: (i: number) => Promise<unknown>,
  ops: number,
  pids: { server: number | undefined; minio: number | undefined },
): Promise<SmallResult> {
  const latencies: number[] = [];
  let next = 0;
  const start = process.hrtime.bigint();
  const { cpu } = await cpuDuring([pids.server, pids.minio], () =>
    Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        while (next < ops) {
          const i = next++;
          const t = process.hrtime.bigint();
          await op(i);
          latencies.push(Number(process.hrtime.bigint() - t) / 1e6);
        }
      }),
    ),
  );
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  const perOp = (s: number | undefined) => (s === undefined ? undefined : (s * 1000) / ops);
  const [server, minio] = cpu;
  return {
    opsPerSec: ops / seconds,
    p50: percentile(latencies, 0.5),
    p99: percentile(latencies, 0.99),
    ...(server !== undefined ? { serverCpuMs: perOp(server) } : {}),
    ...(minio !== undefined ? { minioCpuMs: perOp(minio) } : {}),
  };
}
