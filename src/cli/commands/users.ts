import type { Command } from "commander";
import { StorageError } from "../../errors.ts";
import type { CliContext } from "../context.ts";
import { emit, formatFields, formatTable, shortSha, sizeText } from "../output.ts";
import { commonOptions, remoteFlags, remoteOptions } from "./args.ts";

/**
 * `users put|ls|usage|delete-all`: user uploads with per-user quotas (stores/user-data), locally or
 * through a service's /v1/users routes. `delete-all` is what a data-removal request needs: it
 * deletes every file of the user in batches and reports what went.
 */

type Flags = { json?: boolean; endpoint?: string; token?: string };

export function registerUsers(program: Command, ctx: CliContext): void {
  const users = program
    .command("users")
    .description("user data: per-user uploads with quotas, removal on request");
  const command = (name: string, description: string) =>
    remoteOptions(commonOptions(users.command(name).description(description)));

  command("put <userId> <file>", "upload a file for a user (within the user's quota) under a new upload id")
    .option("--name <filename>", "the file's name as stored (default: the file's own name)")
    .option("--content-type <type>", "Content-Type to record (default: sniffed)")
    .option("--owner <name>", "owner recorded (local mode; a service records the key's service)", "cli")
    .action(
      async (
        userId: string,
        file: string,
        opts: Flags & { name?: string; contentType?: string; owner: string },
      ) => {
        const stored = await ctx.withApi(remoteFlags(opts), (api, signal) =>
          api.userData.put({
            userId,
            file,
            owner: opts.owner,
            signal,
            ...(opts.name ? { filename: opts.name } : {}),
            ...(opts.contentType ? { contentType: opts.contentType } : {}),
          }),
        );
        emit(
          ctx.output(opts),
          () => stored,
          () =>
            formatFields([
              ["key", stored.key],
              ["uploadId", stored.uploadId],
              ["size", sizeText(stored.size)],
              ["sha256", stored.sha256],
            ]),
        );
      },
    );

  command("ls <userId>", "list a user's files").action(async (userId: string, opts: Flags) => {
    const files = await ctx.withApi(remoteFlags(opts), (api) => api.userData.ls(userId));
    emit(
      ctx.output(opts),
      () => ({ files }),
      () =>
        formatTable(
          files.map((f) => [f.uploadId, f.filename, sizeText(f.size), shortSha(f.sha256)]),
          ["left", "left", "right", "left"],
        ),
    );
  });

  command("usage <userId>", "a user's usage and quota").action(async (userId: string, opts: Flags) => {
    const usage = await ctx.withApi(remoteFlags(opts), (api) => api.userData.usage(userId));
    emit(
      ctx.output(opts),
      () => usage,
      () =>
        formatFields([
          ["bytes", `${sizeText(usage.bytes)} of ${sizeText(usage.quota.bytes)}`],
          ["files", `${usage.objects} of ${usage.quota.objects}`],
          ["in flight", `${usage.reservedObjects} uploads, ${sizeText(usage.reservedBytes)}`],
        ]),
    );
  });

  command("delete-all <userId>", "delete every file of a user (a data-removal request), with a report")
    .option("--yes", "confirm: without it nothing is deleted")
    .action(async (userId: string, opts: Flags & { yes?: boolean }) => {
      if (!opts.yes) {
        throw new StorageError(
          "INVALID_ARGUMENT",
          `This deletes every file of ${userId}: add --yes to mean it.`,
          {
            field: "yes",
          },
        );
      }
      const report = await ctx.withApi(remoteFlags(opts), (api, signal) =>
        api.userData.deleteAll(userId, signal),
      );
      emit(
        ctx.output(opts),
        () => report,
        () =>
          `deleted ${report.deletedObjects} files (${sizeText(report.deletedBytes)}) of ${report.userId}; ` +
          `${report.failed} failed\n`,
      );
      if (report.failed > 0) process.exitCode = 1;
    });
}
