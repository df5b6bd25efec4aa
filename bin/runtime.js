// Picks the Node that runs the CLI: this one when it can strip types, else the Node 24 binary of the
// `node` package (a runtime dependency, so a global install has it even though devDependencies are
// skipped). Plain JavaScript, loaded before we know the running Node is new enough.
import { spawn } from "node:child_process";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const NEEDED_MAJOR = 24;
// Set in the re-run child: if even the bundled Node turns out unable, stop instead of looping.
const REEXEC_MARK = "LUMENSLATE_STORAGE_REEXEC";
const ENTRY = fileURLToPath(new URL("./lumenslate-storage.js", import.meta.url));

/** Node 24 or newer with type stripping on (Node 22.18 strips too, but is not what we test on). */
export function canRunHere() {
  const runs = Number(process.versions.node.split(".")[0]) >= NEEDED_MAJOR && !!process.features.typescript;
  if (runs) delete process.env[REEXEC_MARK]; // not for whatever this process starts in turn
  return runs;
}

/**
 * Runs the CLI entry on the bundled Node with the same arguments, stdio and environment (so
 * NODE_OPTIONS and whatever --env-file loaded carry over; the old Node's own flags do not), and
 * ends the way the child ended. Node 20 has no execve, hence a child rather than a replaced process.
 */
export function rerunOnBundledNode() {
  const runtime = process.env[REEXEC_MARK] ? undefined : bundledNode();
  if (!runtime) {
    process.stderr.write(
      `error: lumenslate-storage needs Node.js ${NEEDED_MAJOR} or newer with type stripping (this is ` +
        `${process.version}) and the Node it ships with (the \`node\` package) is missing: reinstall ` +
        `without --ignore-scripts, or run it with Node ${NEEDED_MAJOR}\n`,
    );
    process.exit(1);
  }
  const child = spawn(runtime, [ENTRY, ...process.argv.slice(2)], {
    stdio: "inherit",
    env: { ...process.env, [REEXEC_MARK]: "1" },
  });
  // The child shares our process group, so a terminal's Ctrl-C (SIGINT to the whole foreground
  // group) already reaches it; passing that SIGINT on would deliver it twice, and the CLI takes a
  // second one as "exit now, skip the clean shutdown". Signals sent to this pid alone (a
  // supervisor's SIGTERM or SIGHUP, `kill -INT` without a terminal) are passed on.
  const onTerminal = [process.stdin, process.stdout, process.stderr].some((stream) => stream.isTTY);
  const forward = (signal) => {
    if (signal === "SIGINT" && onTerminal) return;
    child.kill(signal); // false, not a throw, when it is already gone: its exit then ends us
  };
  const signals = ["SIGINT", "SIGTERM", "SIGHUP"];
  for (const signal of signals) process.on(signal, forward);
  child.on("error", (err) => {
    process.stderr.write(`error: could not start ${runtime}: ${err.message}\n`);
    process.exit(1);
  });
  child.on("exit", (code, signal) => {
    for (const s of signals) process.off(s, forward);
    // Die of the same signal, so a shell or supervisor sees the same end (128 + n).
    if (signal) process.kill(process.pid, signal);
    else process.exit(code ?? 1);
  });
}

/** The binary of the `node` package, found the way an import from this file would find it. */
function bundledNode() {
  try {
    const require = createRequire(import.meta.url);
    const manifest = require.resolve("node/package.json");
    const { bin } = require(manifest);
    return join(dirname(manifest), typeof bin === "string" ? bin : bin.node);
  } catch {
    return undefined;
  }
}
