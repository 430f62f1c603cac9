// Accept latency and throughput of POST /v1/builds against the bed's real API
// server, side by side with bare Job creation through @kubernetes/client-node
// in the same run (the baseline), and the dispatcher's memory while it tracks
// many builds. Run: test/bed/up && npx tsx bench/accept-latency.ts [count]
//
// Builds target a Windows pool no node belongs to, so their pods stay
// Pending: the bench measures the dispatcher, not the builds.

import { BatchV1Api } from "@kubernetes/client-node";
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { performance } from "node:perf_hooks";
import { jobManifests } from "../dispatcher/plan/job-manifests.js";
import { planBuild } from "../dispatcher/plan/build-plan.js";
import { validateBuildRequest } from "../dispatcher/protocol/build-request-validation.js";
import { buildRequest, ctx, freePort, postBuild, setUpBed, uploadContext, writeConfigFile } from "../test/integration/harness.js";

const count = Number(process.argv[2] ?? 200);
const tracked = Number(process.argv[3] ?? 500);
const concurrency = 4;

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

async function timed(n: number, one: (i: number) => Promise<void>): Promise<{ latencies: number[]; seconds: number }> {
  const latencies: number[] = [];
  let next = 0;
  const start = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < n) {
        const i = next++;
        const t = performance.now();
        await one(i);
        latencies.push(performance.now() - t);
      }
    }),
  );
  return { latencies: latencies.sort((a, b) => a - b), seconds: (performance.now() - start) / 1000 };
}

const bed = await setUpBed("bench");
const port = await freePort();
// No GitHub here: statuses would go at GitHub's pace (one write a second) and
// measure GitHub, not dockhand; without credentials they are only logged.
const configFile = writeConfigFile(bed, port, ({ github: _github, ...raw }) => raw);
const repoRoot = fileURLToPath(new URL("..", import.meta.url));
const child = spawn(process.execPath, ["--import", "tsx", "dispatcher/main.ts"], {
  cwd: repoRoot,
  env: {
    ...process.env,
    DOCKHAND_CONFIG: configFile,
    DOCKHAND_LOG_LEVEL: "warn",
  },
  stdio: ["ignore", "inherit", "inherit"],
});
const url = `http://127.0.0.1:${port}`;
try {
  for (let i = 0; ; i++) {
    if (await fetch(`${url}/readyz`).then((r) => r.ok, () => false)) break;
    if (i > 300) throw new Error("dispatcher did not start");
    await new Promise((r) => setTimeout(r, 200));
  }
  const rssOf = async () => {
    const text = await (await fetch(`${url}/metrics`)).text();
    return Number(/^process_resident_memory_bytes (\d+)/m.exec(text)?.[1] ?? NaN) / 2 ** 20;
  };
  const dockerfile = `FROM ${bed.env.LINUX_BASE_IMAGE}\nRUN echo never-runs\n`;
  const context = await uploadContext(url, ctx(dockerfile));
  const request = (key: string) =>
    buildRequest(context, { platforms: ["windows/amd64:ltsc2025"], tags: [`${bed.env.REGISTRY}/bench/app:1`], idempotencyKey: key });

  // Warm both paths (TLS sessions, JIT) before measuring.
  for (let i = 0; i < 5; i++) await postBuild(url, request(`warm-${i}`));
  const rssIdle = await rssOf();

  const dispatcherRun = await timed(count, async (i) => {
    const res = await postBuild(url, request(`bench-${i}`));
    if (res.status !== 202) throw new Error(`POST /v1/builds: ${res.status} ${JSON.stringify(res.body)}`);
  });

  // Baseline: the same Job manifest, created directly.
  const config = bed.config(port);
  const batch = bed.k.kc.makeApiClient(BatchV1Api);
  const template = jobManifests(
    planBuild({ request: validateBuildRequest(request("baseline")), config, dockerfile, buildId: "baselinejob00", contextUrl: `${url}/x` }),
    config,
  )[0]!;
  const bareRun = await timed(count, async (i) => {
    await batch.createNamespacedJob({ namespace: bed.namespace, body: { ...template, metadata: { ...template.metadata, name: `bare-${i}` } } });
  });

  for (let i = count; i < tracked; i++) await postBuild(url, request(`bench-${i}`));
  await new Promise((r) => setTimeout(r, 3000));
  const rssTracked = await rssOf();

  const row = (name: string, run: { latencies: number[]; seconds: number }) =>
    `| ${name} | ${percentile(run.latencies, 50).toFixed(1)} | ${percentile(run.latencies, 99).toFixed(1)} | ${(count / run.seconds).toFixed(1)} |`;
  console.log(`\nPOST /v1/builds vs bare Job creation, ${count} requests, concurrency ${concurrency}\n`);
  console.log("| path | p50 ms | p99 ms | requests/s |\n| --- | --- | --- | --- |");
  console.log(row("dispatcher POST /v1/builds", dispatcherRun));
  console.log(row("bare createNamespacedJob", bareRun));
  console.log(
    `\nratio dispatcher/bare: p50 ${(percentile(dispatcherRun.latencies, 50) / percentile(bareRun.latencies, 50)).toFixed(2)}×, ` +
      `p99 ${(percentile(dispatcherRun.latencies, 99) / percentile(bareRun.latencies, 99)).toFixed(2)}×, ` +
      `throughput ${(count / dispatcherRun.seconds / (count / bareRun.seconds)).toFixed(2)}×`,
  );
  console.log(`dispatcher RSS: ${rssIdle.toFixed(0)} MiB idle → ${rssTracked.toFixed(0)} MiB tracking ${tracked} builds`);
} finally {
  child.kill("SIGTERM");
  await bed.close();
}
