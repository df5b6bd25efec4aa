import type { Command } from "commander";
import { POLICIES_DIR } from "../../app.ts";
import { type ProvisionChange, provisionServiceUser } from "../../buckets/provision.ts";
import type { CliContext } from "../context.ts";
import { emit, formatTable } from "../output.ts";
import { explainStoreFailure } from "../startup-errors.ts";
import { commonOptions } from "./args.ts";

export function registerBootstrap(program: Command, ctx: CliContext): void {
  commonOptions(
    program
      .command("bootstrap")
      .description("create the configured buckets and apply versioning, lifecycle, encryption and policies")
      .option(
        "--provision-users",
        "first create or repair the service's own MinIO user and policy (policies/users/) with MINIO_ADMIN_*",
      ),
  ).action(async (opts: { json?: boolean; provisionUsers?: boolean }) => {
    // Provision first: the buckets are then made with the service's own (new) identity.
    const users: ProvisionChange[] = opts.provisionUsers
      ? await provisionServiceUser(ctx.config(), POLICIES_DIR)
      : [];
    const changes = await ctx.withApp("one-shot", (app) =>
      app.bootstrap().catch((err: unknown) => {
        throw explainStoreFailure(err, app.config);
      }),
    );
    emit(
      ctx.output(opts),
      () => (opts.provisionUsers ? { users, buckets: changes } : changes),
      () =>
        changes.length + users.length === 0
          ? "no changes\n"
          : formatTable([
              ...users.map((u) => [u.action, u.target, u.detail]),
              ...changes.map((c) => [c.action, c.bucket, c.detail]),
            ]),
    );
  });
}
