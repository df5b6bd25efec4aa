import { sql } from "kysely";
import type { Database } from "../../metadata/database.ts";
import { guardDb } from "../../metadata/guard.ts";
import type { AlertRecord, AlertState, Observation } from "./types.ts";

type Row = {
  alert: string;
  state: AlertState;
  value: number;
  threshold: number;
  message: string;
  details: Record<string, string | number>;
  since: Date;
  checked_at: Date;
};

const toRecord = (r: Row): AlertRecord => ({
  alert: r.alert,
  state: r.state,
  value: Number(r.value),
  threshold: Number(r.threshold),
  message: r.message,
  details: r.details ?? {},
  since: new Date(r.since),
  checkedAt: new Date(r.checked_at),
});

/**
 * Alert state in PostgreSQL (migration 0009_alerts), one row per alert. A transition is one
 * conditional statement (only from the other state), so however many checks and instances see a
 * breach, exactly one of them moves the alert to firing and gets the record back to announce it.
 */
export class AlertStateStore {
  readonly #db: Database;

  constructor(db: Database) {
    this.#db = db;
  }

  /** Records what a check saw; returns the alert when this call changed its state, else undefined. */
  async record(o: Observation, now: Date): Promise<AlertRecord | undefined> {
    const details = JSON.stringify(o.details);
    return this.#guard(async () => {
      if (o.breached) {
        const { rows } = await sql<Row>`
          insert into alerts (alert, state, value, threshold, message, details, since, checked_at)
          values (${o.alert}, 'firing', ${o.value}, ${o.threshold}, ${o.message}, ${details}::jsonb, ${now}, ${now})
          on conflict (alert) do update
            set state = 'firing', value = excluded.value, threshold = excluded.threshold,
                message = excluded.message, details = excluded.details, since = excluded.since,
                checked_at = excluded.checked_at
            where alerts.state <> 'firing'
          returning *`.execute(this.#db);
        if (rows[0]) return toRecord(rows[0]);
      } else {
        const { rows } = await sql<Row>`
          update alerts
            set state = 'resolved', value = ${o.value}, threshold = ${o.threshold}, message = ${o.message},
                details = ${details}::jsonb, since = ${now}, checked_at = ${now}
          where alert = ${o.alert} and state = 'firing'
          returning *`.execute(this.#db);
        if (rows[0]) return toRecord(rows[0]);
      }
      // No change: keep the latest figures for `GET /v1/admin/alerts`.
      await sql`
        update alerts set value = ${o.value}, message = ${o.message}, details = ${details}::jsonb,
                          checked_at = ${now}
        where alert = ${o.alert}`.execute(this.#db);
      return undefined;
    });
  }

  async list(): Promise<AlertRecord[]> {
    return this.#guard(async () => {
      const { rows } = await sql<Row>`select * from alerts order by alert`.execute(this.#db);
      return rows.map(toRecord);
    });
  }

  #guard<T>(work: () => Promise<T>): Promise<T> {
    return guardDb(work, "The metadata database could not record alert state.");
  }
}
