import type { Command } from "commander";
import { StorageError } from "../../errors.ts";
import { keyJson } from "../../security/admin-json.ts";
import { parseScope } from "../../security/scopes.ts";
import type { IssuedKeyView, KeyView } from "../api.ts";
import type { CliContext } from "../context.ts";
import { emit, formatFields, formatTable } from "../output.ts";
import { collect, commonOptions, parseInteger, remoteFlags, remoteOptions } from "./args.ts";

/**
 * `keys create|list|revoke|rotate`: API key management, locally on the metadata database (whoever
 * can run the CLI with the service's configuration is an operator) or through a service's admin API
 * (remote mode, with an admin key). A key's token is printed only by `create` and `rotate`, once;
 * nothing else ever shows it. Each change is audited.
 */

// One JSON shape for a key, shared with the admin API (remote mode prints what the service answers).
export { keyJson };

type Flags = { json?: boolean; endpoint?: string; token?: string };

const keyFields = (key: KeyView): [string, string][] => [
  ["id", key.id],
  ["service", key.service],
  ["scopes", key.scopes.join(" ")],
  ["rateLimit", key.rateLimit === null ? "default" : String(key.rateLimit)],
  ["createdAt", key.createdAt],
  ...(key.rotatedAt ? [["rotatedAt", key.rotatedAt] as [string, string]] : []),
  ...(key.revokedAt ? [["revokedAt", key.revokedAt] as [string, string]] : []),
];

const TOKEN_NOTE = "Store the token now: it is not stored anywhere and cannot be shown again.\n";

function issuedOutput(issued: IssuedKeyView) {
  return {
    json: () => ({ ...issued.key, token: issued.token }),
    text: () => formatFields([...keyFields(issued.key), ["token", issued.token]]) + TOKEN_NOTE,
  };
}

export function registerKeys(program: Command, ctx: CliContext): void {
  const keys = program.command("keys").description("manage API keys (per-service keys with scopes)");
  const command = (name: string, description: string) =>
    remoteOptions(commonOptions(keys.command(name).description(description)));

  command("create", "create a key and print its token once")
    .requiredOption("--service <name>", "the calling service this key belongs to")
    .option(
      "--scope <bucket[/prefix]:actions>",
      "repeatable; actions: read,write,delete,list,presign,admin or *; prefix may use {user_id}",
      collect,
    )
    .option("--rate-limit <n>", "requests per rate-limit window for this key (default: RATE_LIMIT_REQUESTS)")
    .action(async (opts: Flags & { service: string; scope?: string[]; rateLimit?: string }) => {
      if (!opts.scope?.length) {
        throw new StorageError("INVALID_ARGUMENT", "Give at least one --scope bucket[/prefix]:actions.", {
          field: "scope",
        });
      }
      // Checked here too, so a typo is reported before anything is opened or sent.
      for (const scope of opts.scope) parseScope(scope);
      const rateLimit =
        opts.rateLimit === undefined ? undefined : parseInteger(opts.rateLimit, "rate-limit", 1, 10_000_000);
      const issued = await ctx.withApi(remoteFlags(opts), (api) =>
        api.keys.create({
          service: opts.service,
          scopes: opts.scope ?? [],
          ...(rateLimit === undefined ? {} : { rateLimit }),
        }),
      );
      const out = issuedOutput(issued);
      emit(ctx.output(opts), out.json, out.text);
    });

  command("list", "list keys (never their secrets)")
    .option("--all", "include revoked keys")
    .action(async (opts: Flags & { all?: boolean }) => {
      const list = await ctx.withApi(remoteFlags(opts), (api) => api.keys.list(opts.all === true));
      emit(
        ctx.output(opts),
        () => list,
        () =>
          list.length === 0
            ? "no keys\n"
            : formatTable([
                ["id", "service", "created", "state", "scopes"],
                ...list.map((k) => [
                  k.id,
                  k.service,
                  k.createdAt,
                  k.revokedAt ? "revoked" : "active",
                  k.scopes.join(" "),
                ]),
              ]),
      );
    });

  command("revoke <id>", "revoke a key at once (it cannot be undone)").action(
    async (id: string, opts: Flags) => {
      const key = await ctx.withApi(remoteFlags(opts), (api) => api.keys.revoke(id));
      emit(
        ctx.output(opts),
        () => key,
        () => formatFields(keyFields(key)),
      );
    },
  );

  command("rotate <id>", "give a key a new secret (same id and scopes); the old token stops working").action(
    async (id: string, opts: Flags) => {
      const issued = await ctx.withApi(remoteFlags(opts), (api) => api.keys.rotate(id));
      const out = issuedOutput(issued);
      emit(ctx.output(opts), out.json, out.text);
    },
  );
}
