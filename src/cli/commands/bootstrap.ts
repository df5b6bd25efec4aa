import type { Command } from "commander";
import type { CliContext } from "../context.ts";
import { emit, formatTable } from "../output.ts";
import { commonOptions } from "./args.ts";

export function registerBootstrap(program: Command, ctx: CliContext): void {
  commonOptions(
    program
      .command("bootstrap")
      .description("create the configured buckets and apply versioning, lifecycle, encryption and policies"),
  ).action(async (opts: { json?: boolean }) => {
    const changes = await ctx.withApp("one-shot", (app) => app.bootstrap());
    emit(
      ctx.output(opts),
      () => changes,
      () =>
        changes.length === 0
          ? "no changes\n"
          : formatTable(changes.map((c) => [c.action, c.bucket, c.detail])),
    );
  });
}
