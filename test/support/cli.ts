import { Writable } from "node:stream";
import { main } from "../../src/cli/main.ts";

/** A Writable that hands each chunk to `write` as text: captures CLI output or log lines in tests. */
export function textSink(write: (text: string) => void): Writable {
  return new Writable({
    write(chunk, _enc, done) {
      write(String(chunk));
      done();
    },
  });
}

export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs the CLI in this process (no child, no Node start-up) with `env` as its environment. */
export async function runCli(env: NodeJS.ProcessEnv, ...argv: string[]): Promise<CliRun> {
  let stdout = "";
  let stderr = "";
  const code = await main(argv, {
    env,
    io: { stdout: textSink((s) => (stdout += s)), stderr: textSink((s) => (stderr += s)) },
  });
  return { code, stdout, stderr };
}
