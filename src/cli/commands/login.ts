import { createInterface } from "node:readline/promises";
import { Writable } from "node:stream";
import type { Command } from "commander";
import { StorageError } from "../../errors.ts";
import type { CliContext } from "../context.ts";
import { emit, formatFields } from "../output.ts";
import { serviceClient } from "../remote/client.ts";
import { profilePath, writeProfile } from "../remote/profile.ts";
import { normaliseUrl } from "../remote/target.ts";
import { commonOptions } from "./args.ts";

/**
 * `login <url>`: remembers a service and a token in the profile (0600), like `mc alias set`, so
 * later commands go there without --endpoint/--token. The token comes from --token, else from
 * stdin: piped (`login URL < token-file`), or typed at a prompt that does not echo it.
 */

async function readAll(stream: NodeJS.ReadableStream): Promise<string> {
  let text = "";
  for await (const chunk of stream) text += String(chunk);
  return text;
}

/** One line from a terminal, not echoed (the prompt goes to stderr). */
async function promptHidden(input: NodeJS.ReadableStream, stderr: NodeJS.WritableStream, prompt: string) {
  stderr.write(prompt);
  const muted = new Writable({ write: (_chunk, _encoding, done) => done() });
  const rl = createInterface({ input, output: muted, terminal: true });
  try {
    return await rl.question("");
  } finally {
    rl.close();
    stderr.write("\n");
  }
}

export function registerLogin(program: Command, ctx: CliContext): void {
  commonOptions(
    program
      .command("login <url>")
      .description("save a service's URL and an API key token to the profile (mode 0600) for later commands")
      .option("--token <token>", "the API key token (default: read from stdin, or asked for without echo)"),
  ).action(async (url: string, opts: { token?: string; json?: boolean }) => {
    const base = normaliseUrl(url, "url");
    const file = profilePath(ctx.env);
    if (!file) {
      throw new StorageError(
        "INVALID_ARGUMENT",
        "Neither XDG_CONFIG_HOME nor HOME is set: there is nowhere to keep the profile.",
        {
          field: "profile",
        },
      );
    }
    const stdin = ctx.io.stdin;
    let token = opts.token?.trim();
    if (!token && stdin) {
      token = (
        stdin.isTTY ? await promptHidden(stdin, ctx.io.stderr, "token: ") : await readAll(stdin)
      ).trim();
    }
    if (!token) {
      throw new StorageError("INVALID_ARGUMENT", "No token: pass --token, or give it on stdin.", {
        field: "token",
      });
    }
    // Only a reachable service is saved; the key itself is checked by the first command that uses it.
    const health = await serviceClient({ url: base, origin: "login" }).send("/healthz", {}, "login");
    await health.body?.cancel();
    await writeProfile(file, { url: base, token });
    emit(
      ctx.output(opts),
      () => ({ url: base, profile: file }),
      () =>
        formatFields([
          ["url", base],
          ["profile", file],
        ]),
    );
  });
}
