// Bundles the dispatcher (dispatcher/main.ts and everything it imports) into
// one ES module for its container image: deploy/images/dispatcher/app/ (not
// committed). The Dockerfile's build stage runs it; `npm run build:image-app`
// runs it here, from the repository root after `npm ci`. No tsx, no
// node_modules at run time: the image holds Node and this file.
import { build } from "esbuild";
import { rmSync } from "node:fs";
import { nodeBundle } from "../../../action/esbuild-node.mjs";

const outdir = "deploy/images/dispatcher/app";
rmSync(outdir, { recursive: true, force: true });
// doctor.mjs beside it: `kubectl -n dockhand exec deploy/dockhand -- /nodejs/bin/node /app/doctor.mjs`
// checks the deployment with the pod's own config and ServiceAccount (docs/deploy.md, "doctor");
// cli.mjs is the operator's `dockhand` command (docs/cli.md).
// Whitespace and syntax minified, names kept (stack traces stay readable;
// the sourcemap maps lines): V8 keeps each module's source text for as long
// as the process runs, and the unminified 8.5 MB bundle held 17 MiB of it,
// a fifth of the idle dispatcher's memory (bench/accept-latency.ts).
const dispatcherBundle = { ...nodeBundle, minifyWhitespace: true, minifySyntax: true };
await build({ ...dispatcherBundle, entryPoints: { dispatcher: "dispatcher/main.ts", doctor: "dispatcher/doctor/main.ts", cli: "dispatcher/cli/main.ts" }, outdir });
console.log(`${outdir}/dispatcher.mjs ${outdir}/doctor.mjs ${outdir}/cli.mjs`);
