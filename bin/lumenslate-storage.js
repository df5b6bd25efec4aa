#!/usr/bin/env node
// The CLI runs straight from its TypeScript source through Node's type stripping (Node 24),
// so check for it first: an older Node would otherwise fail with a confusing loader error.
if (!process.features.typescript) {
  process.stderr.write(`error: lumenslate-storage needs Node.js 24 or newer (this is ${process.version})\n`);
  process.exit(1);
}
const { main } = await import("../src/cli/main.ts");
process.exitCode = await main(process.argv.slice(2));
