import { setTimeout as sleep } from "node:timers/promises";

/**
 * Resolves once the clock has passed `instant`: tests wait for an expiry by polling the clock,
 * never by sleeping a guessed duration (and never assert how long it took).
 */
export async function untilPassed(instant: Date | string): Promise<void> {
  const at = new Date(instant).getTime();
  while (Date.now() <= at) await sleep(Math.min(250, Math.max(10, at - Date.now() + 1)));
}
