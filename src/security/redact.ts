import { TOKEN_IN_TEXT } from "./tokens.ts";

/**
 * Secret hygiene for free text (error messages, log lines, audit details): API key tokens keep
 * their public id and lose their secret. Structured values should carry secrets as `Secret`
 * (src/config/secret.ts) instead; this is the net for text that did not.
 */
export const redactTokens = (text: string): string =>
  text.replace(TOKEN_IN_TEXT, (_, id: string) => `lss_${id}_[redacted]`);

/** Every literal in `secrets` (at least 4 characters; shorter ones would mangle ordinary text) replaced. */
export function redactLiterals(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const secret of secrets) if (secret.length >= 4) out = out.split(secret).join("[redacted]");
  return out;
}

/** Both of the above. */
export const redact = (text: string, secrets: readonly string[] = []): string =>
  redactTokens(redactLiterals(text, secrets));
