import { randomUUID } from "node:crypto";
import { sql } from "kysely";
import { StorageError } from "../../errors.ts";
import type { Database } from "../../metadata/database.ts";
import { guardDb } from "../../metadata/guard.ts";
import { type UserDataDatabase, userDataDb } from "./schema.ts";

/**
 * Per-user quotas, kept in PostgreSQL so every instance of a deployment judges against the same
 * numbers. An upload first reserves its announced size (and one object) under a row lock on the
 * user's usage row: two instances reserving at once are serialised by that lock, so the settled
 * usage plus the live reservations never exceed the quota. After the write the reservation is
 * settled into the usage (the real size) or released. Reservations expire, so one left behind by a
 * crashed instance stops counting after RESERVATION_TTL instead of shrinking the quota for good.
 */

/** Longer than any upload should take; an expired reservation no longer counts against the quota. */
const RESERVATION_TTL_SECONDS = 3600;

export interface QuotaLimits {
  bytes: number;
  objects: number;
}

export interface Usage {
  userId: string;
  bytes: number;
  objects: number;
  /** Announced by uploads still in flight. */
  reservedBytes: number;
  reservedObjects: number;
  quota: QuotaLimits;
}

export interface Reservation {
  id: string;
  userId: string;
  bytes: number;
}

const num = (value: string | number | null | undefined): number => Number(value ?? 0);

export class QuotaLedger {
  readonly #db: UserDataDatabase;
  readonly #defaults: QuotaLimits;

  constructor(db: Database, defaults: QuotaLimits) {
    this.#db = userDataDb(db);
    this.#defaults = defaults;
  }

  #guard<T>(work: () => Promise<T>): Promise<T> {
    return guardDb(work, "The user-data quota could not be checked: the database is unavailable.");
  }

  /** Reserves `bytes` and one object for an upload, or throws TOO_LARGE with what is left. */
  reserve(userId: string, bytes: number): Promise<Reservation> {
    return this.#guard(() =>
      this.#db.transaction().execute(async (tx) => {
        const usage = await lockedUsage(tx, userId, this.#defaults);
        const remainingBytes = Math.max(0, usage.quota.bytes - usage.bytes - usage.reservedBytes);
        const remainingObjects = Math.max(0, usage.quota.objects - usage.objects - usage.reservedObjects);
        if (bytes > remainingBytes || remainingObjects < 1) {
          const which = remainingObjects < 1 ? "objects" : "bytes";
          throw new StorageError(
            "TOO_LARGE",
            which === "objects"
              ? `User ${userId} has reached the quota of ${usage.quota.objects} objects.`
              : `The upload (${bytes} bytes) exceeds what is left of user ${userId}'s quota (${remainingBytes} bytes).`,
            {
              quota: which,
              limit: which === "objects" ? usage.quota.objects : usage.quota.bytes,
              remainingBytes,
              remainingObjects,
            },
          );
        }
        const id = randomUUID();
        await tx
          .insertInto("user_data_reservations")
          .values({
            id,
            user_id: userId,
            bytes,
            expires_at: new Date(Date.now() + RESERVATION_TTL_SECONDS * 1000),
          })
          .execute();
        return { id, userId, bytes };
      }),
    );
  }

  /** Turns a reservation into usage: the object as stored (its real size) now counts. */
  settle(reservation: Reservation, storedBytes: number): Promise<void> {
    return this.#guard(() =>
      this.#db.transaction().execute(async (tx) => {
        await tx.deleteFrom("user_data_reservations").where("id", "=", reservation.id).execute();
        await tx
          .updateTable("user_data_usage")
          .set({
            bytes: sql`bytes + ${storedBytes}`,
            objects: sql`objects + 1`,
            updated_at: new Date(),
          })
          .where("user_id", "=", reservation.userId)
          .execute();
      }),
    );
  }

  /** Gives a reservation back (the upload failed or was refused by the core). */
  release(reservation: Reservation): Promise<void> {
    return this.#guard(async () => {
      await this.#db.deleteFrom("user_data_reservations").where("id", "=", reservation.id).execute();
    });
  }

  /** Takes deleted objects off a user's usage (never below zero). */
  subtract(userId: string, bytes: number, objects: number): Promise<void> {
    if (bytes === 0 && objects === 0) return Promise.resolve();
    return this.#guard(async () => {
      await this.#db
        .updateTable("user_data_usage")
        .set({
          bytes: sql`greatest(0, bytes - ${bytes})`,
          objects: sql`greatest(0, objects - ${objects})`,
          updated_at: new Date(),
        })
        .where("user_id", "=", userId)
        .execute();
    });
  }

  usage(userId: string): Promise<Usage> {
    return this.#guard(() => this.#db.transaction().execute((tx) => lockedUsage(tx, userId, this.#defaults)));
  }

  /** Sets (or with null clears) a user's own limits; undefined leaves a limit as it is. */
  setQuota(userId: string, limits: { bytes?: number | null; objects?: number | null }): Promise<Usage> {
    return this.#guard(() =>
      this.#db.transaction().execute(async (tx) => {
        await lockedUsage(tx, userId, this.#defaults);
        await tx
          .updateTable("user_data_usage")
          .set({
            ...(limits.bytes !== undefined ? { quota_bytes: limits.bytes } : {}),
            ...(limits.objects !== undefined ? { quota_objects: limits.objects } : {}),
            updated_at: new Date(),
          })
          .where("user_id", "=", userId)
          .execute();
        return lockedUsage(tx, userId, this.#defaults);
      }),
    );
  }
}

type Tx = Parameters<Parameters<ReturnType<UserDataDatabase["transaction"]>["execute"]>[0]>[0];

/**
 * The user's usage with its row locked until the transaction ends (created at zero on first use),
 * live reservations included; expired ones are dropped on the way.
 */
async function lockedUsage(tx: Tx, userId: string, defaults: QuotaLimits): Promise<Usage> {
  await tx
    .insertInto("user_data_usage")
    .values({ user_id: userId, bytes: 0, objects: 0 })
    .onConflict((oc) => oc.column("user_id").doNothing())
    .execute();
  const row = await tx
    .selectFrom("user_data_usage")
    .selectAll()
    .where("user_id", "=", userId)
    .forUpdate()
    .executeTakeFirstOrThrow();
  await tx
    .deleteFrom("user_data_reservations")
    .where("user_id", "=", userId)
    .where("expires_at", "<", new Date())
    .execute();
  const reserved = await tx
    .selectFrom("user_data_reservations")
    .select((eb) => [
      eb.fn.coalesce(eb.fn.sum<string>("bytes"), sql<string>`0`).as("bytes"),
      eb.fn.countAll<string>().as("objects"),
    ])
    .where("user_id", "=", userId)
    .executeTakeFirstOrThrow();
  return {
    userId,
    bytes: num(row.bytes),
    objects: num(row.objects),
    reservedBytes: num(reserved.bytes),
    reservedObjects: num(reserved.objects),
    quota: {
      bytes: row.quota_bytes === null ? defaults.bytes : num(row.quota_bytes),
      objects: row.quota_objects === null ? defaults.objects : num(row.quota_objects),
    },
  };
}
