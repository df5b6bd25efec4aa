#!/usr/bin/env node
// The CLI runs straight from its TypeScript source through Node's type stripping (Node 24),
// so check for it first: an older Node would otherwise fail with a confusing loader error.
if (!process.features.typescript) {
  process.stderr.write(`error: lumenslate-storage needs Node.js 24 or newer (this is ${process.version})\n`);
  process.exit(1);
}
// Everything this process creates is its own data (embedded database with its WAL, local objects,
// the first admin key, downloads): private to its user whatever umask it was started with. Set here
// and not in main(), which tests run inside their own process; PGlite creates its files with no mode
// of ours, so the umask is the only way to keep them private.
process.umask(0o077);
const { main } = await import("../src/cli/main.ts");
process.exitCode = await main(process.argv.slice(2));
