/**
 * Whether a call's deadline has (as good as) passed. A client enforces its own deadline, so its
 * cancel reaches the server a little before the server's timer fires; a cancel within `slackMs`
 * of the deadline is the deadline, for logs and abort reasons.
 */
export function deadlinePassed(deadline: Date | number, slackMs = 100): boolean {
  const ms = deadline instanceof Date ? deadline.getTime() : deadline;
  return Number.isFinite(ms) && ms - slackMs <= Date.now();
}
