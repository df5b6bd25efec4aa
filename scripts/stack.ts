// `npm run stack [-- --distributed] [-- --env-file FILE] [-- --json]`: the production-shaped stack
// (MinIO, PostgreSQL, bootstrap, the service) on a bare machine, until Ctrl-C. See stack-lib.ts.
import { readFile } from "node:fs/promises";
import { parseArgs } from "node:util";
import { ConfigError } from "../src/config/config.ts";
import { describeStack, type Stack, startStack } from "./stack-lib.ts";

const USAGE = `usage: node scripts/stack.ts [--env-file FILE] [--distributed [--nodes N]] [--json]
  --env-file FILE  the .env to read (default ./.env, the file the Compose stack reads too)
  --distributed    a distributed, erasure-coded MinIO of N nodes (default 4) instead of one node
  --json           print the endpoints as one JSON line on stdout (progress goes to stderr)
`;

const { values } = parseArgs({
  options: {
    "env-file": { type: "string" },
    distributed: { type: "boolean", default: false },
    nodes: { type: "string" },
    json: { type: "boolean", default: false },
    help: { type: "boolean", short: "h", default: false },
  },
  strict: true,
});
if (values.help) {
  process.stdout.write(USAGE);
  process.exit(0);
}
const nodes = values.nodes === undefined ? 4 : Number(values.nodes);
if (!Number.isInteger(nodes) || nodes < 2 || nodes > 16) {
  process.stderr.write(`--nodes must be a whole number from 2 to 16\n${USAGE}`);
  process.exit(2);
}

const say = (line: string) => process.stderr.write(`stack: ${line}\n`);
let stack: Stack | undefined;
let shuttingDown = false;

// Handled here, not by default: the children run in process groups of their own (a Ctrl-C reaches
// only this process) and are stopped in order. A second signal gives up waiting.
for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
  process.on(signal, () => {
    if (shuttingDown) {
      say(`${signal} again: exiting without waiting`);
      process.exit(130);
    }
    shuttingDown = true;
    if (!stack) {
      // Exiting now would orphan what is half started: the start-up path stops it when done.
      say(`${signal}: stopping as soon as everything started (again to exit at once)`);
      return;
    }
    say(`${signal}: stopping`);
    void stack.stop().then(
      () => process.exit(0),
      (err: unknown) => {
        say(`stop failed: ${err instanceof Error ? err.message : String(err)}`);
        process.exit(1);
      },
    );
  });
}

try {
  stack = await startStack({
    ...(values["env-file"] === undefined ? {} : { envFile: values["env-file"] }),
    distributed: values.distributed,
    nodes,
    log: say,
  });
} catch (err) {
  // A ConfigError names the variable and what it accepts; anything else says which step failed.
  say(
    err instanceof ConfigError ? err.message : `failed: ${err instanceof Error ? err.message : String(err)}`,
  );
  process.exit(1);
}

if (shuttingDown) {
  // A signal arrived while starting: its handler had nothing to stop yet.
  await stack.stop();
  process.exit(0);
}
const { serviceExited, stop, ...info } = stack;
if (values.json) process.stdout.write(`${JSON.stringify(info)}\n`);
else process.stdout.write(describeStack(info, values.distributed));

const code = await serviceExited;
if (!shuttingDown) {
  // Its log goes with the data directory: show the end of it first.
  const tail = await readFile(`${info.dir}/service.log`, "utf8").catch(() => "");
  say(`the service exited unexpectedly (code ${code}); the end of its log:`);
  process.stderr.write(`${tail.trimEnd().split("\n").slice(-30).join("\n")}\n`);
  await stop();
  process.exit(1);
}
