import type { Logger } from "pino";
import type { SessionRow, UploadSessionTable } from "../metadata/upload-sessions.ts";

const SWEEP_BATCH = 100;

/**
 * Aborts open sessions past their expiry (UPLOAD_SESSION_TTL), a batch at a time; returns how many.
 * Each is claimed first, so a completion running right now is not pulled from under it; one that
 * cannot be dropped is released and left for the next sweep. A batch in which nothing could be
 * dropped ends the pass (the same rows would come back forever).
 */
export async function sweepExpired(deps: {
  table: UploadSessionTable;
  drop: (row: SessionRow) => Promise<void>;
  log: Logger;
  now: Date;
  staleBefore: Date;
}): Promise<number> {
  const { table, drop, log, now, staleBefore } = deps;
  let aborted = 0;
  for (;;) {
    const due = await table.expired(now, staleBefore, SWEEP_BATCH);
    let progressed = false;
    for (const row of due) {
      if (!(await table.claim(row.id, now, staleBefore))) continue;
      try {
        await drop(row);
        aborted++;
        progressed = true;
      } catch (err) {
        await table.release(row.id).catch(() => {});
        log.warn(
          { err, session: row.id },
          "upload session sweep could not abort a session; next sweep retries",
        );
      }
    }
    if (due.length < SWEEP_BATCH || !progressed) return aborted;
  }
}
