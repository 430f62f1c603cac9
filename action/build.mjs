// Bundles the Action's entry points into dist/ (committed: a workflow runs
// dist/ straight from the repository, with no npm install). One file per
// entry, with sourcemaps. action.yml runs them on node24 (the runners'
// current Node); the bundle targets node20 so the same files also run on
// older self-hosted runners and in this repository's tests.
import { build } from "esbuild";
import { rmSync } from "node:fs";

const entryPoints = { main: "action/index-main.ts", post: "action/index-post.ts" };
rmSync("dist", { recursive: true, force: true });
await build({
  entryPoints,
  outdir: "dist",
  bundle: true,
  platform: "node",
  target: "node20",
  format: "esm",
  outExtension: { ".js": ".mjs" },
  sourcemap: true,
  // Sourcemaps hold absolute paths unless told otherwise; keep dist/ the
  // same on every machine so CI can compare it byte for byte.
  sourceRoot: "../",
  legalComments: "linked",
  // Some dependencies still call require(); give the ESM bundle one.
  banner: { js: "import { createRequire as __dockhandRequire } from 'node:module'; const require = __dockhandRequire(import.meta.url);" },
  logLevel: "warning",
});
console.log(`dist/: ${Object.keys(entryPoints).map((e) => `${e}.mjs`).join(", ")}`);
