// One pass of dockhand-node-gc (deploy/images/dockerd-hostprocess/node-gc)
// against its floor, and its memory, on a private real dockerd holding
// `images` images of which none may go (a pass that finds nothing to remove:
// what a node sees almost every interval).
//
//   test/bed/up && npx tsx bench/node-gc.ts [images] [passes]
//
// The floor is the same Docker API calls made with a bare node:http client
// on the same socket: list containers, list images, inspect each image (the
// list has no LastTagTime), list every image with its parent (-a), the
// images' disk use. Memory is the pass's peak
// RSS (GNU time's %M), next to the DaemonSet's request for the container.
// The bed gives the base image (its registry) and the node-gc build.

import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { request } from "node:http";
import { join } from "node:path";
import { bedEnv } from "../test/bed/bed-env.js";

const imageCount = Number(process.argv[2] ?? 100);
const passes = Number(process.argv[3] ?? 15);
const bed = bedEnv();
if (!bed.NODE_GC_BIN) throw new Error("no NODE_GC_BIN in .bed/env: rerun test/bed/up");

const dir = mkdtempSync("/tmp/dh-gcb-");
const socket = join(dir, "d.sock");
const docker = (...args: string[]) => {
  const run = spawnSync("docker", ["-H", `unix://${socket}`, ...args], { encoding: "utf8", env: { ...process.env, DOCKER_BUILDKIT: "0" } });
  if (run.status !== 0) throw new Error(`docker ${args.join(" ")}: ${run.stderr}`);
  return run.stdout;
};
function api(path: string): Promise<unknown> {
  return new Promise((resolve, reject) => {
    request({ socketPath: socket, path: `/v1.41${path}` }, (res) => {
      let body = "";
      res.on("data", (chunk) => (body += chunk));
      res.on("end", () => resolve(JSON.parse(body)));
    })
      .on("error", reject)
      .end();
  });
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const p90 = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * 0.9))]!;

const dockerd = spawn(
  "dockerd",
  [`--host=unix://${socket}`, `--data-root=${dir}/data`, `--exec-root=${dir}/exec`, `--pidfile=${dir}/d.pid`, "--storage-driver=vfs", "--iptables=false", "--bridge=none", "--ip-masq=false"],
  { stdio: "ignore" },
);
try {
  for (let i = 0; spawnSync("docker", ["-H", `unix://${socket}`, "version"]).status !== 0; i++) {
    if (i > 120) throw new Error("the private dockerd did not start");
    await new Promise((r) => setTimeout(r, 250));
  }
  docker("pull", bed.LINUX_BASE_IMAGE);
  // Distinct images cheaply: a classic build of one LABEL commits a new image.
  for (let i = 0; i < imageCount; i++) {
    const run = spawnSync("docker", ["-H", `unix://${socket}`, "build", "-q", `--tag=bench/img-${i}:1`, "-"], {
      input: `FROM ${bed.LINUX_BASE_IMAGE}\nLABEL n=${i}\n`,
      env: { ...process.env, DOCKER_BUILDKIT: "0" },
    });
    if (run.status !== 0) throw new Error(`build ${i}: ${run.stderr}`);
  }
  const count = (await api("/images/json")) as unknown[];
  console.log(`private dockerd ${docker("version", "--format", "{{.Server.Version}}").trim()}, ${count.length} images, ${passes} passes each, alternating`);

  const gcMs: number[] = [];
  const floorMs: number[] = [];
  const rssKiB: number[] = [];
  for (let round = 0; round < passes; round++) {
    let started = performance.now();
    // Nothing may go: every image is younger than --min-age, and the disk limit is far.
    const run = spawnSync("/usr/bin/time", ["-f", "%M", bed.NODE_GC_BIN, `--host=unix://${socket}`, "--once", "--min-age=1000h"], { encoding: "utf8" });
    gcMs.push(performance.now() - started);
    if (run.status !== 0 || !run.stdout.includes("node-gc: removed 0 images")) throw new Error(`node-gc: ${run.stdout}${run.stderr}`);
    rssKiB.push(Number(run.stderr.trim().split("\n").at(-1)));

    started = performance.now();
    await api("/containers/json?all=1");
    const images = (await api("/images/json")) as { Id: string }[];
    for (const image of images) await api(`/images/${image.Id}/json`);
    await api("/images/json?all=1");
    await api("/system/df?type=image");
    floorMs.push(performance.now() - started);
  }
  const row = (name: string, xs: number[]) => `| ${name} | ${median(xs).toFixed(0)} | ${p90(xs).toFixed(0)} |`;
  console.log("\n| one pass, nothing to remove | median ms | p90 ms |\n| --- | --- | --- |");
  console.log(row("dockhand-node-gc --once (process start included)", gcMs));
  console.log(row("floor: the same API calls, bare node:http", floorMs));
  console.log(`\nratio (median): ${(median(gcMs) / median(floorMs)).toFixed(2)}×`);
  console.log(`peak RSS of a pass: median ${(median(rssKiB) / 1024).toFixed(1)} MiB, max ${(Math.max(...rssKiB) / 1024).toFixed(1)} MiB (the DaemonSet requests 32Mi for node-gc)`);
} finally {
  dockerd.kill("SIGTERM");
  await new Promise((r) => dockerd.once("exit", r));
  rmSync(dir, { recursive: true, force: true });
}
