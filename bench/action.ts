// The Action's own costs, each next to a baseline measured in the same run
// (the machine is shared and noisy):
// - bundle size of dist/ (raw and gzipped);
// - cold start: `node dist/main.mjs` spawned as the runner spawns it, until
//   its first request reaches the dispatcher (a local HTTP server), against a
//   bare `node -e 0` that only starts and exits;
// - context packing: packContext on a generated tree against GNU tar + gzip
//   on the same tree, both plain `tar czf` and with the flags that make it
//   reproducible as packContext is (--sort=name --mtime=@0 --owner=0 ...).
//
//   npx tsx bench/action.ts [files=10000] [runs=3]
//
// BENCH_BASELINE_DIST=<dir with main.mjs> adds that bundle's cold start,
// measured in the same rounds (e.g. the previous release's dist/).
//
// Needs a fresh `npm run build` (dist/) and GNU tar; no bed.

import { execFileSync, spawn, spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { packContext } from "../action/context.js";

const files = Number(process.argv[2] ?? 10_000);
const runs = Number(process.argv[3] ?? 3);
const root = new URL("..", import.meta.url).pathname;

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] as number;
}

const mib = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(1)} MiB`;

// --- bundle size
for (const entry of ["main", "post"]) {
  const bytes = readFileSync(join(root, `dist/${entry}.mjs`));
  console.log(`dist/${entry}.mjs: ${(bytes.length / 1024).toFixed(0)} KiB, ${(gzipSync(bytes).length / 1024).toFixed(0)} KiB gzipped`);
}

// --- cold start to first request
async function coldStart(bundle = join(root, "dist/main.mjs")): Promise<number> {
  let firstRequest = 0;
  const server = createServer((req, res) => {
    firstRequest ||= performance.now();
    res.writeHead(404).end();
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const workspace = mkdtempSync(join(tmpdir(), "dh-bench-ws-"));
  writeFileSync(join(workspace, "Dockerfile"), "FROM scratch\n");
  const env = {
    PATH: process.env["PATH"],
    GITHUB_REPOSITORY: "o/r",
    GITHUB_SHA: "0".repeat(40),
    GITHUB_REF: "refs/heads/main",
    GITHUB_RUN_ID: "1",
    GITHUB_JOB: "j",
    GITHUB_WORKSPACE: workspace,
    RUNNER_TEMP: workspace,
    "INPUT_DISPATCHER-URL": `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    INPUT_AUTH: "secret",
    INPUT_SECRET: "bench-secret",
    INPUT_PLATFORMS: "linux/amd64",
  };
  const started = performance.now();
  const child = spawn(process.execPath, [bundle], { env, stdio: "ignore" });
  while (!firstRequest) await new Promise((r) => setTimeout(r, 1));
  child.kill("SIGKILL");
  await new Promise((r) => child.on("exit", r));
  await new Promise((r) => server.close(r));
  rmSync(workspace, { recursive: true, force: true });
  return firstRequest - started;
}

function bareNode(): number {
  const started = performance.now();
  spawnSync(process.execPath, ["-e", "0"]);
  return performance.now() - started;
}

const baselineDist = process.env["BENCH_BASELINE_DIST"];
const starts: number[] = [];
const bare: number[] = [];
const baseline: number[] = [];
for (let i = 0; i < Math.max(baselineDist ? 15 : 5, runs); i++) {
  bare.push(bareNode());
  starts.push(await coldStart());
  if (baselineDist) baseline.push(await coldStart(join(baselineDist, "main.mjs")));
}
console.log(`cold start to first request: ${median(starts).toFixed(0)} ms (bare node start and exit: ${median(bare).toFixed(0)} ms; ratio ${(median(starts) / median(bare)).toFixed(2)}×)`);
if (baselineDist) {
  console.log(`baseline ${baselineDist}/main.mjs: ${median(baseline).toFixed(0)} ms (ratio to bare ${(median(baseline) / median(bare)).toFixed(2)}×); this dist / baseline ${(median(starts) / median(baseline)).toFixed(2)}×`);
}

// --- packing throughput
// Source-like text in many small files plus a few large incompressible
// ones, generated from a fixed seed so runs compare.
let seed = 42;
const random = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
const words = ["const", "return", "function", "import", "export", "value", "string", "number", "if", "else", "for", "await", "async", "class", "new", "this", "=>", "{", "}", "(", ")", ";"];
const text = (bytes: number) => {
  let out = "";
  while (out.length < bytes) out += `${words[Math.floor(random() * words.length)]}${random() < 0.1 ? "\n" : " "}`;
  return out.slice(0, bytes);
};
const tree = mkdtempSync(join(tmpdir(), "dh-bench-tree-"));
let content = 0;
for (let i = 0; i < files; i++) {
  const dir = join(tree, `src/m${i % 50}/p${i % 7}`);
  mkdirSync(dir, { recursive: true });
  const size = 512 + Math.floor(random() * 15_000);
  writeFileSync(join(dir, `f${i}.ts`), text(size));
  content += size;
}
mkdirSync(join(tree, "assets"), { recursive: true });
for (let i = 0; i < 8; i++) {
  const blob = Buffer.alloc(6 * 1024 * 1024);
  // Like built binaries and images: barely compressible.
  for (let j = 0; j < blob.length; j += 4) blob.writeUInt32LE(Math.floor(random() * 2 ** 32), j);
  writeFileSync(join(tree, `assets/blob${i}.bin`), blob);
  content += blob.length;
}
writeFileSync(join(tree, "Dockerfile"), "FROM scratch\nCOPY . /\n");
const out = mkdtempSync(join(tmpdir(), "dh-bench-out-"));
console.log(`tree: ${files + 9} files, ${mib(content)}`);

const timings: Record<string, number[]> = { packContext: [], "tar czf": [], "tar czf (reproducible flags)": [] };
const sizes: Record<string, number> = {};
for (let i = 0; i < runs; i++) {
  let started = performance.now();
  const packed = await packContext({ contextDir: tree, dockerfile: "Dockerfile", outFile: join(out, "ctx.tar.gz") });
  timings["packContext"]!.push(performance.now() - started);
  sizes["packContext"] = packed.size;

  started = performance.now();
  execFileSync("tar", ["czf", join(out, "plain.tgz"), "-C", tree, "."]);
  timings["tar czf"]!.push(performance.now() - started);
  sizes["tar czf"] = statSync(join(out, "plain.tgz")).size;

  started = performance.now();
  execFileSync("sh", ["-c", `tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -cf - -C '${tree}' . | gzip -n > '${join(out, "repro.tgz")}'`]);
  timings["tar czf (reproducible flags)"]!.push(performance.now() - started);
  sizes["tar czf (reproducible flags)"] = statSync(join(out, "repro.tgz")).size;
}
const base = median(timings["tar czf"]!);
console.log(`\n| packer | median s (${runs} runs) | MiB/s of content | output | time vs tar czf |`);
console.log("| --- | --- | --- | --- | --- |");
for (const [name, times] of Object.entries(timings)) {
  const ms = median(times);
  console.log(`| ${name} | ${(ms / 1000).toFixed(2)} | ${(content / 1024 / 1024 / (ms / 1000)).toFixed(1)} | ${mib(sizes[name]!)} | ${(ms / base).toFixed(2)}× |`);
}
rmSync(tree, { recursive: true, force: true });
rmSync(out, { recursive: true, force: true });
