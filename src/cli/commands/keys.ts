import type { Command } from "commander";
import type { AppContext } from "../../app.ts";
import { StorageError } from "../../errors.ts";
import type { ApiKeyInfo, IssuedKey } from "../../security/api-keys.ts";
import { createSecurity, type Security } from "../../security/index.ts";
import { formatScope, parseScope } from "../../security/scopes.ts";
import type { CliContext } from "../context.ts";
import { emit, formatFields, formatTable } from "../output.ts";
import { collect, commonOptions, parseInteger } from "./args.ts";

/**
 * `keys create|list|revoke|rotate`: API key management straight on the metadata database (whoever
 * can run the CLI with the service's configuration is an operator). A key's token is printed only
 * by `create` and `rotate`, once; nothing else ever shows it. Each change is audited (protocol "cli").
 */

export function keyJson(key: ApiKeyInfo) {
  return {
    id: key.id,
    service: key.service,
    scopes: key.scopes.map(formatScope),
    rateLimit: key.rateLimit,
    createdAt: key.createdAt,
    rotatedAt: key.rotatedAt,
    revokedAt: key.revokedAt,
  };
}

const keyFields = (key: ApiKeyInfo): [string, string][] => [
  ["id", key.id],
  ["service", key.service],
  ["scopes", key.scopes.map(formatScope).join(" ")],
  ["rateLimit", key.rateLimit === null ? "default" : String(key.rateLimit)],
  ["createdAt", key.createdAt.toISOString()],
  ...(key.rotatedAt ? [["rotatedAt", key.rotatedAt.toISOString()] as [string, string]] : []),
  ...(key.revokedAt ? [["revokedAt", key.revokedAt.toISOString()] as [string, string]] : []),
];

const TOKEN_NOTE = "Store the token now: it is not stored anywhere and cannot be shown again.\n";

function issuedOutput(issued: IssuedKey) {
  return {
    json: () => ({ ...keyJson(issued.key), token: issued.token.reveal() }),
    text: () => formatFields([...keyFields(issued.key), ["token", issued.token.reveal()]]) + TOKEN_NOTE,
  };
}

async function withSecurity<T>(ctx: CliContext, body: (security: Security, app: AppContext) => Promise<T>) {
  return ctx.withApp("one-shot", (app) =>
    body(createSecurity({ config: app.config, db: app.db, service: app.service, logger: app.logger }), app),
  );
}

const audited = (security: Security, action: string, key: ApiKeyInfo) =>
  security.recordAudit({ protocol: "cli", action, keyId: key.id, service: key.service, result: "OK" });

export function registerKeys(program: Command, ctx: CliContext): void {
  const keys = program.command("keys").description("manage API keys (per-service keys with scopes)");

  commonOptions(
    keys
      .command("create")
      .description("create a key and print its token once")
      .requiredOption("--service <name>", "the calling service this key belongs to")
      .option(
        "--scope <bucket[/prefix]:actions>",
        "repeatable; actions: read,write,delete,list,presign,admin or *; prefix may use {user_id}",
        collect,
      )
      .option(
        "--rate-limit <n>",
        "requests per rate-limit window for this key (default: RATE_LIMIT_REQUESTS)",
      ),
  ).action(async (opts: { service: string; scope?: string[]; rateLimit?: string; json?: boolean }) => {
    if (!opts.scope?.length) {
      throw new StorageError("INVALID_ARGUMENT", "Give at least one --scope bucket[/prefix]:actions.", {
        field: "scope",
      });
    }
    const scopes = opts.scope.map(parseScope);
    const rateLimit =
      opts.rateLimit === undefined ? undefined : parseInteger(opts.rateLimit, "rate-limit", 1, 10_000_000);
    const issued = await withSecurity(ctx, async (security) => {
      const created = await security.keys.create({
        service: opts.service,
        scopes,
        ...(rateLimit === undefined ? {} : { rateLimit }),
      });
      await audited(security, "keys.create", created.key);
      return created;
    });
    const out = issuedOutput(issued);
    emit(ctx.output(opts), out.json, out.text);
  });

  commonOptions(
    keys
      .command("list")
      .description("list keys (never their secrets)")
      .option("--all", "include revoked keys"),
  ).action(async (opts: { all?: boolean; json?: boolean }) => {
    const list = await withSecurity(ctx, (security) =>
      security.keys.list({ includeRevoked: opts.all === true }),
    );
    emit(
      ctx.output(opts),
      () => list.map(keyJson),
      () =>
        list.length === 0
          ? "no keys\n"
          : formatTable([
              ["id", "service", "created", "state", "scopes"],
              ...list.map((k) => [
                k.id,
                k.service,
                k.createdAt.toISOString(),
                k.revokedAt ? "revoked" : "active",
                k.scopes.map(formatScope).join(" "),
              ]),
            ]),
    );
  });

  commonOptions(keys.command("revoke <id>").description("revoke a key at once (it cannot be undone)")).action(
    async (id: string, opts: { json?: boolean }) => {
      const key = await withSecurity(ctx, async (security) => {
        const revoked = await security.keys.revoke(id);
        await audited(security, "keys.revoke", revoked);
        return revoked;
      });
      emit(
        ctx.output(opts),
        () => keyJson(key),
        () => formatFields(keyFields(key)),
      );
    },
  );

  commonOptions(
    keys
      .command("rotate <id>")
      .description("give a key a new secret (same id and scopes); the old token stops working"),
  ).action(async (id: string, opts: { json?: boolean }) => {
    const issued = await withSecurity(ctx, async (security) => {
      const rotated = await security.keys.rotate(id);
      await audited(security, "keys.rotate", rotated.key);
      return rotated;
    });
    const out = issuedOutput(issued);
    emit(ctx.output(opts), out.json, out.text);
  });
}
