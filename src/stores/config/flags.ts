import { createHash } from "node:crypto";
import { z } from "zod";
import { StorageError } from "../../errors.ts";
import type { FlagReason, JsonValue } from "./types.ts";

/**
 * Feature flags are config documents named `flags/<flag>`, so they get history, diff and
 * rollback like any other document. The format:
 *
 *   enabled: true        # false turns the flag off for everyone (a kill switch)
 *   rollout: 25          # percent of subjects, 0-100 (two decimals); default 100
 *   allow: [user-1]      # always on (when enabled), whatever the rollout
 *   deny: [user-2]       # always off; deny wins over allow
 */

export const FLAG_PREFIX = "flags/";

const Subjects = z.array(z.string().min(1).max(256)).max(10_000).default([]);

export const FlagDocument = z.strictObject({
  enabled: z.boolean(),
  rollout: z
    .number()
    .min(0)
    .max(100)
    // Hundredths of a percent are the rollout's unit (a bucket in 0..9999).
    .refine((n) => Math.abs(n * 100 - Math.round(n * 100)) < 1e-9, {
      message: "must have at most two decimals",
    })
    .default(100),
  allow: Subjects,
  deny: Subjects,
  description: z.string().max(2000).optional(),
});

export type Flag = z.output<typeof FlagDocument>;

/** Checks a flag document's shape; the message names the offending field. */
export function parseFlag(value: JsonValue): Flag {
  const parsed = FlagDocument.safeParse(value);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  const field = issue?.path.join(".") || "document";
  throw new StorageError(
    "INVALID_ARGUMENT",
    `The flag document is invalid: ${field}: ${issue?.message ?? "invalid"}. Expected {enabled: boolean, rollout?: 0-100, allow?: [ids], deny?: [ids]}.`,
    { field: "content", path: field },
  );
}

/**
 * A subject's place in 0..9999, the same on every instance and every run: the first 32 bits of
 * sha256(flag + NUL + subject). Hashing the flag name in means each flag picks its own subjects,
 * so 10% on two flags is not the same 10% of users.
 */
export function rolloutBucket(flag: string, subject: string): number {
  return createHash("sha256").update(`${flag}\0${subject}`).digest().readUInt32BE(0) % 10_000;
}

export function evaluate(
  flagName: string,
  flag: Flag,
  subject: string,
): { enabled: boolean; reason: FlagReason } {
  if (!flag.enabled) return { enabled: false, reason: "disabled" };
  if (flag.deny.includes(subject)) return { enabled: false, reason: "denied" };
  if (flag.allow.includes(subject)) return { enabled: true, reason: "allowed" };
  return rolloutBucket(flagName, subject) < Math.round(flag.rollout * 100)
    ? { enabled: true, reason: "rollout" }
    : { enabled: false, reason: "not-in-rollout" };
}
