// Bundles the dispatcher (dispatcher/main.ts and everything it imports) into
// one ES module for its container image: deploy/images/dispatcher/app/,
// the image's build context (not committed). Run from the repository root
// after `npm ci`: `npm run build:image-app`. No tsx, no node_modules at run
// time: the image holds Node and this file.
import { build } from "esbuild";
import { rmSync } from "node:fs";

const outdir = "deploy/images/dispatcher/app";
rmSync(outdir, { recursive: true, force: true });
await build({
  entryPoints: { dispatcher: "dispatcher/main.ts" },
  outdir,
  bundle: true,
  platform: "node",
  target: "node20",
  format: "esm",
  outExtension: { ".js": ".mjs" },
  sourcemap: true,
  legalComments: "linked",
  // Some dependencies still call require(); give the ESM bundle one.
  banner: { js: "import { createRequire as __dockhandRequire } from 'node:module'; const require = __dockhandRequire(import.meta.url);" },
  logLevel: "warning",
});
console.log(`${outdir}/dispatcher.mjs`);
