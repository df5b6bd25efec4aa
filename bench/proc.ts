import { readdir, readFile, writeFile } from "node:fs/promises";

/**
 * What the benchmarks read about other processes from Linux's /proc: CPU time (to charge the
 * service and MinIO for each workload, which wall time on a shared 2-core machine cannot) and the
 * RSS high-water mark. Off Linux every reader returns undefined and the tables say "n/a".
 */

const CLOCK_TICKS_PER_SECOND = 100; // USER_HZ, the unit of utime/stime in /proc/<pid>/stat

/** User+system CPU seconds of a process so far, from /proc/<pid>/stat (fields 14 and 15). */
export async function cpuSecondsOf(pid: number | undefined): Promise<number | undefined> {
  if (pid === undefined) return undefined;
  const stat = await readFile(`/proc/${pid}/stat`, "utf8").catch(() => "");
  // The command name (field 2) may hold spaces: count fields from after its closing parenthesis.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const ticks = Number(fields[11]) + Number(fields[12]);
  return stat !== "" && Number.isFinite(ticks) ? ticks / CLOCK_TICKS_PER_SECOND : undefined;
}

/** CPU seconds each of `pids` spent while `work` ran (undefined where /proc could not be read). */
export async function cpuDuring<T>(
  pids: readonly (number | undefined)[],
  work: () => Promise<T>,
): Promise<{ result: T; cpu: (number | undefined)[] }> {
  const before = await Promise.all(pids.map(cpuSecondsOf));
  const result = await work();
  const after = await Promise.all(pids.map(cpuSecondsOf));
  const cpu = pids.map((_, i) => {
    const a = after[i];
    const b = before[i];
    return a !== undefined && b !== undefined ? a - b : undefined;
  });
  return { result, cpu };
}

/** Resets a process's RSS high-water mark (Linux clear_refs), so peakMiB reads what came after. */
export const resetPeak = (pid: number) => writeFile(`/proc/${pid}/clear_refs`, "5").catch(() => {});

/** A process's RSS high-water mark (VmHWM) in MiB. */
export async function peakMiB(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, "utf8");
  return Number(/VmHWM:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024;
}

/** The MinIO server's pid, found by its listen address (the harness does not expose it). */
export async function findMinioPid(port: number): Promise<number | undefined> {
  for (const entry of await readdir("/proc").catch(() => [])) {
    if (!/^\d+$/.test(entry)) continue;
    const args = (await readFile(`/proc/${entry}/cmdline`, "utf8").catch(() => "")).split("\0");
    if (args.includes("server") && args.includes(`127.0.0.1:${port}`)) return Number(entry);
  }
  return undefined;
}
