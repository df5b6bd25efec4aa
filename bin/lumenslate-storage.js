#!/usr/bin/env node
// The CLI runs straight from its TypeScript source through Node's type stripping (Node 24). This
// file stays plain JavaScript that any Node since 18 can start, because `#!/usr/bin/env node` picks
// whatever Node is first on PATH — after `npm install -g`, often an older system one: the package
// brings its own Node 24 (the `node` dependency), and this re-runs itself on it when needed.
import { canRunHere, rerunOnBundledNode } from "./runtime.js";

if (!canRunHere()) {
  rerunOnBundledNode();
} else {
  // Everything this process creates is its own data (embedded database with its WAL, local objects,
  // the first admin key, downloads): private to its user whatever umask it was started with. Set
  // here and not in main(), which tests run inside their own process; PGlite creates its files with
  // no mode of ours, so the umask is the only way to keep them private.
  process.umask(0o077);
  // Imported only now: it needs node:module exports that an older Node does not have.
  const { stripOwnTypesUnderNodeModules } = await import("./strip-types.js");
  stripOwnTypesUnderNodeModules();
  const { main } = await import("../src/cli/main.ts");
  process.exitCode = await main(process.argv.slice(2));
}
