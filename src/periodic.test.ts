import type { Logger } from "pino";
import { describe, expect, it } from "vitest";
import { PeriodicTask } from "./periodic.ts";

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function recordingLog() {
  const errors: string[] = [];
  const log = { error: (_o: unknown, msg: string) => errors.push(msg) } as unknown as Logger;
  return { log, errors };
}

describe("PeriodicTask", () => {
  it("never overlaps a slow run, logs a failed one and keeps going, and stops", async () => {
    const { log, errors } = recordingLog();
    let running = 0;
    let most = 0;
    let runs = 0;
    const task = new PeriodicTask(
      "test sweep",
      async () => {
        runs++;
        most = Math.max(most, ++running);
        await sleep(35);
        running--;
        if (runs === 1) throw new Error("first run fails");
      },
      log,
    );
    task.start(0.01);
    await sleep(200);
    task.stop();
    const afterStop = runs;
    await sleep(60);
    expect(most).toBe(1);
    expect(runs).toBeGreaterThanOrEqual(2);
    expect(errors).toEqual(["test sweep failed; retrying next interval"]);
    expect(runs).toBeLessThanOrEqual(afterStop + 1);
  });

  it("does not run at all for an interval of 0", async () => {
    let runs = 0;
    const task = new PeriodicTask("off", async () => void runs++, recordingLog().log);
    task.start(0);
    await sleep(30);
    task.stop();
    expect(runs).toBe(0);
  });
});
