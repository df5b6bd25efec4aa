import pino from "pino";
import { describe, expect, it } from "vitest";
import { shipOwnLogs } from "./self-log.ts";

/** An archive that logs while appending and again from a timer, as a batch flush does. */
function loggingArchive(logger: pino.Logger) {
  const appended: string[] = [];
  let flushes = 0;
  return {
    appended,
    flushed: () => flushes,
    append: async (_target: unknown, lines: string[]) => {
      appended.push(...lines);
      logger.info("archive: line buffered");
      await new Promise<void>((resolve) =>
        setTimeout(() => {
          flushes++;
          logger.warn("archive: flushed a part");
          resolve();
        }, 1),
      );
    },
  };
}

describe("shipOwnLogs", () => {
  it("ships lines at the level and above, from children too, and never the archive's own lines", async () => {
    const out: string[] = [];
    const logger = pino({ level: "debug" }, { write: (s: string) => void out.push(s) });
    const archive = loggingArchive(logger);
    const shipping = shipOwnLogs(logger, archive, "info");
    logger.info({ n: 1 }, "first");
    logger.debug("below the shipping level");
    logger.child({ component: "http" }).warn("from a child");
    await new Promise((r) => setTimeout(r, 20));
    expect(archive.appended.map((l) => JSON.parse(l).msg)).toEqual(["first", "from a child"]);
    expect(archive.flushed()).toBe(2);
    expect(shipping.shipped).toBe(2);
    // The destination still gets every line, the archive's own included.
    expect(out.map((l) => JSON.parse(l).msg)).toEqual([
      "first",
      "archive: line buffered",
      "below the shipping level",
      "from a child",
      "archive: line buffered",
      "archive: flushed a part",
      "archive: flushed a part",
    ]);
    shipping.detach();
    logger.info("after detach");
    expect(archive.appended).toHaveLength(2);
    expect(out.at(-1)).toContain("after detach");
  });

  it("counts refused lines and warns once per run of failures, without shipping the warning", async () => {
    const out: string[] = [];
    const logger = pino({ level: "info" }, { write: (s: string) => void out.push(s) });
    const shipping = shipOwnLogs(logger, { append: () => Promise.reject(new Error("store down")) }, "info");
    logger.info("a");
    logger.info("b");
    await new Promise((r) => setTimeout(r, 5));
    expect(shipping.failed).toBe(2);
    expect(out.filter((l) => l.includes("shipping the service's own logs"))).toHaveLength(1);
  });
});
