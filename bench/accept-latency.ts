// Accept latency of POST /v1/builds against its floor, and the dispatcher's
// memory against a bare node:http server's, in one run on the bed.
//
//   test/bed/up && npx tsx bench/accept-latency.ts [requests] [burst] [rounds]
//
// Three paths create the same Job with the same ServiceAccount token (deploy/
// base's RBAC, a TokenRequest kubeconfig): the bundled dispatcher's
// `POST /v1/builds` (context stored, plan, signed URL, Job created); a bare
// node:https POST of the Job (the floor: what creating a Job costs at all);
// and @kubernetes/client-node's createNamespacedJob. Each at 4 and at 32
// concurrent, `requests` per path and concurrency, in `rounds` alternating
// rounds so the shared machine's load falls on all three alike.
//
// Memory (process RSS from /proc, both processes measured the same way): the
// bundled dispatcher idle after start-up and five builds, next to a bare
// node:http server that answered the same number of requests; then while
// it tracks the bench's builds (their pods stay Pending: BuildKit's
// nodeSelector names no node), minus idle.
//
// Throughput: `burst` (default 1,000) builds submitted evenly over one
// minute, /healthz probed every 50 ms meanwhile (goal p99 ≤ 50 ms), and
// every build's Job counted afterwards.
//
// BENCH_CPU_PROF=<dir> runs the dispatcher with `node --cpu-prof` into <dir>.

import { BatchV1Api, KubeConfig, type V1Job } from "@kubernetes/client-node";
import { build, type BuildOptions } from "esbuild";
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { mkdtempSync, openSync, readFileSync } from "node:fs";
import { Agent, request as httpsRequest } from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { setTimeout as sleep } from "node:timers/promises";
import { jobManifests } from "../dispatcher/plan/job-manifests.js";
import { planBuild } from "../dispatcher/plan/build-plan.js";
import { validateBuildRequest } from "../dispatcher/protocol/build-request-validation.js";
import { applyRbac, render, repoRoot } from "../test/deploy/deployed.js";
import { buildRequest, ctx, freePort, postBuild, setUpBed, uploadContext, writeConfigFile } from "../test/integration/harness.js";

const requests = Number(process.argv[2] ?? 200);
const tracked = Number(process.argv[3] ?? 1000);
const rounds = Number(process.argv[4] ?? 4);
const concurrencies = [4, 32];

const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;

/** `n` calls of `one`, `concurrency` at a time; each call's latency in ms. */
async function timed(n: number, concurrency: number, one: () => Promise<void>): Promise<number[]> {
  const latencies: number[] = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next++ < n) {
        const t = performance.now();
        await one();
        latencies.push(performance.now() - t);
      }
    }),
  );
  return latencies;
}

/** VmRSS of a process, MiB. */
const rssOf = (pid: number) => Number(/^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"))![1]) / 1024;

async function waitFor(url: string, child: ChildProcess): Promise<void> {
  for (let i = 0; i < 600; i++) {
    if (child.exitCode !== null) throw new Error(`${url}: the process exited (${child.exitCode})`);
    if (await fetch(url).then((r) => r.ok, () => false)) return;
    await sleep(100);
  }
  throw new Error(`${url} did not answer`);
}

// The bundle's options, shared with the image build (a .mjs: no types to import).
const { nodeBundle } = (await import("../action/esbuild-node.mjs" as string)) as { nodeBundle: BuildOptions };

const load = () => readFileSync("/proc/loadavg", "utf8").split(" ").slice(0, 3).join(" ");
console.log(`load average at start: ${load()} (${(await import("node:os")).cpus().length} cores)`);

const bed = await setUpBed("bench-accept");
const children: ChildProcess[] = [];
try {
  // The dispatcher as deployed: bundled (deploy/images/dispatcher/build.mjs's
  // options), with deploy/base's ServiceAccount and nothing more.
  const out = mkdtempSync(join(tmpdir(), "dh-bench-bundle-"));
  // The options deploy/images/dispatcher/build.mjs bundles with (that script builds when imported).
  await build({ ...nodeBundle, minifyWhitespace: true, minifySyntax: true, entryPoints: { dispatcher: join(repoRoot, "dispatcher/main.ts") }, outdir: out, logLevel: "error" });
  const serviceAccount = applyRbac(render(join(repoRoot, "deploy/base")), bed.namespace);
  const saKubeconfig = join(mkdtempSync(join(tmpdir(), "dh-bench-sa-")), "kubeconfig");
  const minted = spawnSync(join(bed.env.BED_BIN, "testcluster"), ["sa-kubeconfig", "--kubeconfig", bed.env.KUBECONFIG, "--namespace", bed.namespace, "--name", serviceAccount, "--out", saKubeconfig], { encoding: "utf8" });
  if (minted.status !== 0) throw new Error(`sa-kubeconfig: ${minted.stderr}`);

  const port = await freePort();
  // No GitHub: statuses would go at GitHub's pace and measure GitHub.
  const configFile = writeConfigFile(bed, port, ({ github: _github, ...raw }) => ({
    ...raw,
    kubernetes: { ...(raw["kubernetes"] as object), kubeconfig: saKubeconfig },
    buildkit: { ...(raw["buildkit"] as object), nodeSelector: { "dockhand.dev/bench": "no-node-has-this" } },
    limits: { ...(raw["limits"] as object), unschedulableAfterSeconds: 3600 },
  }));
  const profile = process.env["BENCH_CPU_PROF"];
  // Its log to a file, as a container runtime keeps it (at info, the default level).
  const logFile = join(out, "dispatcher.log");
  const dispatcher = spawn(process.execPath, [...(profile ? ["--cpu-prof", `--cpu-prof-dir=${profile}`] : []), join(out, "dispatcher.mjs")], {
    env: { ...process.env, DOCKHAND_CONFIG: configFile, DOCKHAND_LOG_LEVEL: process.env["DOCKHAND_LOG_LEVEL"] ?? "info" },
    stdio: ["ignore", openSync(logFile, "w"), "inherit"],
  });
  children.push(dispatcher);
  const url = `http://127.0.0.1:${port}`;
  await waitFor(`${url}/readyz`, dispatcher);

  const barePort = await freePort();
  const bareServer = spawn(process.execPath, ["-e", `require("node:http").createServer((q, s) => s.end("ok")).listen(${barePort}, "127.0.0.1")`], { stdio: "inherit" });
  children.push(bareServer);
  await waitFor(`http://127.0.0.1:${barePort}/`, bareServer);

  const dockerfile = `FROM ${bed.env.LINUX_BASE_IMAGE}\nRUN echo never-runs\n`;
  const context = await uploadContext(url, ctx(dockerfile));
  let sequence = 0;
  const request = () => buildRequest(context, { platforms: ["linux/amd64"], tags: [`${bed.env.REGISTRY}/bench/app:1`], idempotencyKey: `bench-${sequence++}` });
  for (let i = 0; i < 5; i++) {
    await postBuild(url, request());
    await fetch(`http://127.0.0.1:${barePort}/`).then((r) => r.text());
  }
  await sleep(2000);
  const idle = { dispatcher: rssOf(dispatcher.pid!), bare: rssOf(bareServer.pid!) };

  // The floors: the Job the dispatcher would create (with its finalizer, as
  // BuildJobs.create adds it), less the managed-by label so the dispatcher's
  // informers neither cache nor reconcile it.
  const config = { ...bed.config(port), buildkit: { ...bed.config(port).buildkit, nodeSelector: { "dockhand.dev/bench": "no-node-has-this" } } };
  const template = jobManifests(planBuild({ request: validateBuildRequest(buildRequest(context, { platforms: ["linux/amd64"], tags: [`${bed.env.REGISTRY}/bench/app:1`], idempotencyKey: "floor" })), config, dockerfile, buildId: "benchfloor000", contextUrl: `${url}/x` }), config)[0]!;
  const { ["app.kubernetes.io/managed-by"]: _managed, ...labels } = template.metadata!.labels!;
  let floorSequence = 0;
  const floorJob = (): V1Job => ({ ...template, metadata: { ...template.metadata, labels, name: `floor-${floorSequence++}`, finalizers: ["dockhand.dev/report"] } });
  const kc = new KubeConfig();
  kc.loadFromFile(saKubeconfig);
  const cluster = kc.getCurrentCluster()!;
  const token = kc.getCurrentUser()!.token!;
  const tls: { ca?: Buffer } = {};
  await kc.applyToHTTPSOptions(tls);
  const agent = new Agent({ keepAlive: true, ca: tls.ca });
  const jobsPath = `/apis/batch/v1/namespaces/${bed.namespace}/jobs`;
  const bare = () =>
    new Promise<void>((resolve, reject) => {
      const body = JSON.stringify(floorJob());
      const req = httpsRequest(new URL(jobsPath, cluster.server), { method: "POST", agent, headers: { authorization: `Bearer ${token}`, "content-type": "application/json", "content-length": Buffer.byteLength(body) } }, (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => (res.statusCode === 201 ? resolve() : reject(new Error(`bare POST: ${res.statusCode} ${Buffer.concat(chunks)}`))));
        res.on("error", reject);
      });
      req.on("error", reject);
      req.end(body);
    });
  const batch = kc.makeApiClient(BatchV1Api);
  const paths: Record<string, () => Promise<void>> = {
    "dispatcher POST /v1/builds": async () => {
      const res = await postBuild(url, request());
      if (res.status !== 202) throw new Error(`POST /v1/builds: ${res.status} ${JSON.stringify(res.body)}`);
    },
    "bare node:https Job POST (floor)": bare,
    "client-node createNamespacedJob": async () => {
      await batch.createNamespacedJob({ namespace: bed.namespace, body: floorJob() });
    },
  };
  for (const path of Object.values(paths)) await timed(10, 4, path); // TLS sessions, JIT

  const results = new Map<string, number[]>();
  for (const concurrency of concurrencies) {
    for (let round = 0; round < rounds; round++) {
      // Alternate the order too: no path always runs right after another.
      const order = round % 2 === 0 ? Object.keys(paths) : Object.keys(paths).reverse();
      for (const name of order) {
        const key = `${concurrency}|${name}`;
        results.set(key, [...(results.get(key) ?? []), ...(await timed(Math.ceil(requests / rounds), concurrency, paths[name]!))]);
      }
    }
  }
  const loadAfterAccept = load();

  // Throughput: `tracked` more builds submitted evenly over one minute (at
  // most 64 in flight), /healthz asked every 50 ms meanwhile; then every one
  // must have its Job. What the dispatcher tracks afterwards is the memory row.
  const burst = { sent: 0, accepted: 0, failed: [] as string[], latencies: [] as number[], health: [] as number[], bareHealth: [] as number[] };
  const burstStart = performance.now();
  let burstOver = false;
  const healthProbe = (async () => {
    while (!burstOver) {
      const t = performance.now();
      const ok = await fetch(`${url}/healthz`).then((r) => r.ok, () => false);
      burst.health.push(ok ? performance.now() - t : Infinity);
      // The bare node:http server asked the same way: what the machine's load alone costs a probe.
      const tb = performance.now();
      const bareOk = await fetch(`http://127.0.0.1:${barePort}/`).then((r) => r.ok, () => false);
      burst.bareHealth.push(bareOk ? performance.now() - tb : Infinity);
      await sleep(50);
    }
  })();
  const inFlight = new Set<Promise<void>>();
  for (let i = 0; i < tracked; i++) {
    const due = burstStart + (i * 60_000) / tracked;
    if (performance.now() < due) await sleep(due - performance.now());
    while (inFlight.size >= 64) await Promise.race(inFlight);
    const one = (async () => {
      const t = performance.now();
      burst.sent++;
      const res = await postBuild(url, request()).catch((err: Error) => ({ status: 0, body: err.message }));
      burst.latencies.push(performance.now() - t);
      if (res.status === 202) burst.accepted++;
      else burst.failed.push(`${res.status} ${JSON.stringify(res.body).slice(0, 200)}`);
    })();
    inFlight.add(one);
    void one.finally(() => inFlight.delete(one));
  }
  await Promise.all(inFlight);
  const burstSeconds = (performance.now() - burstStart) / 1000;
  burstOver = true;
  await healthProbe;
  const managedJobs = (await bed.k.batch.listNamespacedJob({ namespace: bed.namespace, labelSelector: "app.kubernetes.io/managed-by" })).items.length;
  await sleep(5000);
  const trackedRss = rssOf(dispatcher.pid!);

  console.log(`\nPOST /v1/builds against its floor: ${requests} requests per path and concurrency, ${rounds} alternating rounds\n`);
  console.log("| concurrent | path | p50 ms | p99 ms | p50 − floor ms | p99 / floor |\n| --- | --- | --- | --- | --- | --- |");
  for (const concurrency of concurrencies) {
    const floor = results.get(`${concurrency}|bare node:https Job POST (floor)`)!.sort((a, b) => a - b);
    for (const name of Object.keys(paths)) {
      const l = results.get(`${concurrency}|${name}`)!.sort((a, b) => a - b);
      console.log(
        `| ${concurrency} | ${name} | ${percentile(l, 50).toFixed(1)} | ${percentile(l, 99).toFixed(1)} | ${(percentile(l, 50) - percentile(floor, 50)).toFixed(1)} | ${(percentile(l, 99) / percentile(floor, 99)).toFixed(2)}× |`,
      );
    }
  }
  console.log("goal: dispatcher p50 − floor ≤ 10 ms, p99 / floor ≤ 1.5×");
  const sortedHealth = [...burst.health].sort((a, b) => a - b);
  const sortedBurst = [...burst.latencies].sort((a, b) => a - b);
  const sortedBare = [...burst.bareHealth].sort((a, b) => a - b);
  console.log(
    `\nthroughput: ${burst.sent} builds sent in ${burstSeconds.toFixed(1)} s (paced over 60 s), ${burst.accepted} accepted (202), ${burst.failed.length} not${burst.failed.length ? ` (first: ${burst.failed[0]})` : ""}; ` +
      `${managedJobs} build Jobs in the namespace for ${sequence} builds requested in all; POST p50 ${percentile(sortedBurst, 50).toFixed(1)} ms, p99 ${percentile(sortedBurst, 99).toFixed(1)} ms; ` +
      `/healthz during it: ${sortedHealth.length} probes, p50 ${percentile(sortedHealth, 50).toFixed(1)} ms, p99 ${percentile(sortedHealth, 99).toFixed(1)} ms (goal ≤ 50 ms), max ${sortedHealth.at(-1)!.toFixed(1)} ms; the bare node:http server probed alongside: p50 ${percentile(sortedBare, 50).toFixed(1)} ms, p99 ${percentile(sortedBare, 99).toFixed(1)} ms`,
  );
  console.log(`\nmemory (VmRSS): dispatcher idle ${idle.dispatcher.toFixed(1)} MiB, bare node:http ${idle.bare.toFixed(1)} MiB: ratio ${(idle.dispatcher / idle.bare).toFixed(2)}× (goal ≤ 1.5×)`);
  console.log(`tracking ${managedJobs} builds: ${trackedRss.toFixed(1)} MiB, +${(trackedRss - idle.dispatcher).toFixed(1)} MiB over idle (goal ≤ +50 MiB)`);
  const logLines = readFileSync(logFile, "utf8").split("\n").length - 1;
  console.log(`dispatcher log: ${logLines} lines for ${sequence} builds (${logFile})`);
  console.log(`load average: after accept ${loadAfterAccept}, at end ${load()}`);
  if (profile) dispatcher.kill("SIGINT"); // --cpu-prof writes its profile on a clean exit
  await sleep(profile ? 3000 : 0);
} finally {
  for (const child of children) child.kill("SIGTERM");
  // Nothing reports on these Jobs once the dispatcher is gone: let the namespace go.
  const batch = bed.k.batch;
  const jobs = await batch.listNamespacedJob({ namespace: bed.namespace });
  const names = jobs.items.filter((j) => j.metadata?.finalizers?.length).map((j) => j.metadata!.name!);
  while (names.length) {
    await Promise.all(
      names.splice(0, 32).map((name) =>
        batch.patchNamespacedJob({ namespace: bed.namespace, name, body: [{ op: "remove", path: "/metadata/finalizers" }] }).catch(() => undefined),
      ),
    );
  }
  await bed.close();
}
