// Bundles the Action's entry points into dist/ (committed: a workflow runs
// dist/ straight from the repository, with no npm install). One file per
// entry, with sourcemaps. action.yml runs them on node24 (the runners'
// current Node); the bundle targets node20 so the same files also run on
// older self-hosted runners and in this repository's tests.
import { build } from "esbuild";
import { rmSync } from "node:fs";
import { nodeBundle } from "./esbuild-node.mjs";

const entryPoints = { main: "action/index-main.ts", post: "action/index-post.ts" };
rmSync("dist", { recursive: true, force: true });
await build({
  ...nodeBundle,
  entryPoints,
  outdir: "dist",
  // Sourcemaps hold absolute paths unless told otherwise; keep dist/ the
  // same on every machine so CI can compare it byte for byte.
  sourceRoot: "../",
  // Whitespace and syntax minified, names kept: a third of the bytes a
  // runner reads and parses on every step's start, while stack traces still
  // name the functions (and the sourcemap maps them to action/).
  minifyWhitespace: true,
  minifySyntax: true,
});
console.log(`dist/: ${Object.keys(entryPoints).map((e) => `${e}.mjs`).join(", ")}`);
