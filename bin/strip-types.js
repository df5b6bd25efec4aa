// Node refuses to strip types from files under node_modules (ERR_UNSUPPORTED_NODE_MODULES_TYPE_
// STRIPPING), to keep packages from shipping TypeScript; but an installed copy of this package
// lives exactly there (`npm install -g`, `npx --package <tarball>`). For our own files only, a
// module hook strips the types itself with the same stripper Node uses, so the CLI runs unchanged.
import { readFileSync } from "node:fs";
import { registerHooks, stripTypeScriptTypes } from "node:module";
import { sep } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = new URL("../", import.meta.url).href;

/** Installs the hook when this package sits under a node_modules directory; a no-op otherwise. */
export function stripOwnTypesUnderNodeModules() {
  if (!fileURLToPath(ROOT).split(sep).includes("node_modules")) return;
  quietFirstStrip();
  registerHooks({
    load(url, context, nextLoad) {
      if (!isOwnTypeScript(url)) return nextLoad(url, context);
      const source = readFileSync(new URL(url), "utf8");
      return { format: "module", source: stripTypeScriptTypes(source), shortCircuit: true };
    },
  });
}

/** A .ts file of this package ("type": "module", so an ES module), not of its dependencies. */
const isOwnTypeScript = (url) =>
  url.startsWith(ROOT) && url.endsWith(".ts") && !url.slice(ROOT.length).split("/").includes("node_modules");

/**
 * stripTypeScriptTypes() warns once per process that it is experimental: meant for whoever calls
 * it, not for the CLI's user, whose stderr carries the CLI's own output. The first call is made
 * here with that one warning held back; every other warning still shows.
 */
function quietFirstStrip() {
  const emitWarning = process.emitWarning;
  process.emitWarning = function (warning, ...rest) {
    if (String(warning).includes("stripTypeScriptTypes")) return;
    return emitWarning.call(this, warning, ...rest);
  };
  try {
    stripTypeScriptTypes("");
  } finally {
    process.emitWarning = emitWarning;
  }
}
