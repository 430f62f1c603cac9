// esbuild options for a Node bundle, shared by the Action's dist/
// (action/build.mjs) and the dispatcher's image (deploy/images/dispatcher/
// build.mjs): one ES module per entry, for Node 20 and later, with
// sourcemaps.
export const nodeBundle = {
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
};
