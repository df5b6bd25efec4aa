import { open } from "node:fs/promises";
import path from "node:path";
import { ConfigError } from "../config/config.ts";
import { type ParsedToken, parseToken } from "./tokens.ts";

/**
 * Reads the operator's first admin token from AUTH_BOOTSTRAP_ADMIN_TOKEN_FILE (say, a Kubernetes
 * Secret mounted as a file), so the first admin key is one the operator already holds: nothing is
 * generated, printed or written, and no pod log ever sees a token.
 *
 * Errors are ConfigErrors naming the variable and the path, never a byte of the content (a file
 * that holds almost a token holds almost a secret).
 */

const VARIABLE = "AUTH_BOOTSTRAP_ADMIN_TOKEN_FILE";
/** A token is 64 characters; a generous ceiling keeps a wrong path (a log, a disk image) from being read whole. */
const MAX_BYTES = 1024;

export async function readAdminTokenFile(file: string): Promise<ParsedToken> {
  const target = path.resolve(file);
  let text: string;
  try {
    const handle = await open(target, "r");
    try {
      const { buffer, bytesRead } = await handle.read(Buffer.alloc(MAX_BYTES + 1), 0, MAX_BYTES + 1, 0);
      if (bytesRead > MAX_BYTES) throw invalid(target, "it is far larger than one token");
      text = buffer.subarray(0, bytesRead).toString("utf8");
    } finally {
      await handle.close();
    }
  } catch (err) {
    if (err instanceof ConfigError) throw err;
    const why = (err as NodeJS.ErrnoException).code ?? "unreadable";
    throw new ConfigError(`Invalid configuration: ${VARIABLE} (${target}) cannot be read (${why})`, {
      cause: err,
    });
  }
  // Secrets are often written with a trailing newline (echo, kubectl create secret --from-file).
  const parsed = parseToken(text.trim());
  if (!parsed) throw invalid(target, "it does not hold an API key token");
  return parsed;
}

const invalid = (target: string, why: string) =>
  new ConfigError(
    `Invalid configuration: ${VARIABLE} (${target}) is unusable: ${why}. It must hold exactly one ` +
      "token of the form lss_<16 characters a-z 0-9>_<43 characters A-Z a-z 0-9 - _> and nothing " +
      "else but a trailing newline; make one with: " +
      "echo \"lss_$(openssl rand -hex 8)_$(openssl rand -base64 32 | tr '+/' '-_' | tr -d '=')\"",
  );
