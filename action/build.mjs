// Bundles the Action's entry points into dist/ (committed: a workflow runs
// dist/ straight from the repository, with no npm install). One file per
// entry, with sourcemaps, for the Node version the runners use.
import { build } from "esbuild";
import { existsSync, rmSync } from "node:fs";

const entries = ["main", "post"].filter((name) => existsSync(`action/${name}.ts`));
rmSync("dist", { recursive: true, force: true });
if (entries.length > 0) {
  await build({
    entryPoints: entries.map((name) => `action/${name}.ts`),
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
}
console.log(`dist/: ${entries.length ? entries.map((e) => `${e}.mjs`).join(", ") : "no Action entry points yet"}`);
