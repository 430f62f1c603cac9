// Recovery at scale: the leader SIGKILLed with many builds in flight, and how
// long the standby takes to lead and to have reconciled every build.
//
//   test/bed/up && npx tsx bench/recovery.ts [builds=1000] [leaseDurationSeconds=30]
//
// A: the bundled dispatcher (deploy/images/dispatcher/build.mjs's options),
// leader, its own process. B: a standby started in this process (so the
// bench can wait on its reconciler's queue). Half the builds go to A, which
// records their pending statuses; A is then stopped (SIGSTOP: it holds the
// Lease and does nothing), the other half goes through B's API, and A is
// SIGKILLed: B must send the missing half's statuses and none of the others.
// Their pods stay Pending (BuildKit's nodeSelector names no node). No GitHub:
// a status is logged and recorded, so B's log says what it sent. The Lease
// must outlast the submission (default 30 s). Printed: A stopped → B leads,
// against leaseDurationSeconds; B leads → every Job reconciled (goal ≤ 5 s);
// statuses B sent against those A had not recorded (goal: equal).

import { build, type BuildOptions } from "esbuild";
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { Writable } from "node:stream";
import { setTimeout as sleep } from "node:timers/promises";
import pino from "pino";
import { resolveConfig } from "../dispatcher/config/validate.js";
import type { KubernetesExecutor } from "../dispatcher/controller/kubernetes-executor.js";
import { startDispatcher } from "../dispatcher/dispatcher.js";
import { annotationKeys } from "../dispatcher/plan/names.js";
import { repoRoot } from "../test/deploy/deployed.js";
import { buildRequest, ctx, freePort, postBuild, setUpBed, uploadContext, writeConfigFile } from "../test/integration/harness.js";

const builds = Number(process.argv[2] ?? 1000);
const leaseDurationSeconds = Number(process.argv[3] ?? 30);
const { nodeBundle } = (await import("../action/esbuild-node.mjs" as string)) as { nodeBundle: BuildOptions };
const load = () => readFileSync("/proc/loadavg", "utf8").split(" ").slice(0, 3).join(" ");
console.log(`load average at start: ${load()}`);

const bed = await setUpBed("bench-recovery");
let a: ChildProcess | undefined;
let b: Awaited<ReturnType<typeof startDispatcher>> | undefined;
try {
  const out = mkdtempSync(join(tmpdir(), "dh-bench-bundle-"));
  await build({ ...nodeBundle, minifyWhitespace: true, minifySyntax: true, entryPoints: { dispatcher: join(repoRoot, "dispatcher/main.ts") }, outdir: out, logLevel: "error" });
  const shape = (raw: Record<string, unknown>) => {
    const { github: _github, ...rest } = raw;
    return {
      ...rest,
      kubernetes: { ...(raw["kubernetes"] as object), leaderElection: { leaseDurationSeconds, renewDeadlineSeconds: Math.max(1, leaseDurationSeconds - 5), retryPeriodSeconds: Math.min(2, Math.max(1, Math.floor(leaseDurationSeconds / 5))) } },
      buildkit: { ...(raw["buildkit"] as object), nodeSelector: { "dockhand.dev/bench": "no-node-has-this" } },
      limits: { ...(raw["limits"] as object), unschedulableAfterSeconds: 3600 },
    };
  };
  const portA = await freePort();
  a = spawn(process.execPath, [join(out, "dispatcher.mjs")], {
    env: { ...process.env, DOCKHAND_CONFIG: writeConfigFile(bed, portA, shape), DOCKHAND_LOG_LEVEL: "warn" },
    stdio: ["ignore", "ignore", "inherit"],
  });
  const urlA = `http://127.0.0.1:${portA}`;
  for (let i = 0; !(await fetch(`${urlA}/metrics`).then(async (r) => /^dockhand_leader 1/m.test(await r.text()), () => false)); i++) {
    if (i > 600) throw new Error("A never led");
    await sleep(100);
  }

  // B: standby, its log counted line by line.
  const sent: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString("utf8").split("\n")) if (line.includes("no GitHub credentials configured")) sent.push(line);
      done();
    },
  });
  b = await startDispatcher(resolveConfig(shape(bed.rawConfig(await freePort())), {}, "bench-b"), { logger: pino({ level: "info" }, sink) });
  const executorB = b.executor as KubernetesExecutor;
  if (executorB.isReconciling) throw new Error("B leads from the start: A's Lease was not held");

  const files = ctx(`FROM ${bed.env.LINUX_BASE_IMAGE}\nRUN echo never-runs\n`);
  const context = await uploadContext(urlA, files);
  await uploadContext(b.url, files); // each replica's contexts directory is its own here
  let next = 0;
  const submit = (url: string, until: number) =>
    Promise.all(
      Array.from({ length: 16 }, async () => {
        while (next < until) {
          const i = next++;
          const res = await postBuild(url, buildRequest(context, { platforms: ["linux/amd64"], tags: [`${bed.env.REGISTRY}/bench/recovery:1`], idempotencyKey: `recovery-${i}` }));
          if (res.status !== 202) throw new Error(`POST /v1/builds: ${res.status} ${JSON.stringify(res.body)}`);
        }
      }),
    );
  // Half through the leader, which records their pending statuses as they
  // come; then the leader is stopped (SIGSTOP: it holds the Lease but does
  // nothing) and the other half goes through B's API, so nothing records
  // theirs; then the leader is killed. B must send exactly the missing half.
  const started = performance.now();
  await submit(urlA, Math.floor(builds / 2));
  await sleep(3000);
  a.kill("SIGSTOP");
  const stoppedAt = performance.now();
  await submit(b.url, builds);
  const submitSeconds = (performance.now() - started) / 1000;
  a.kill("SIGKILL");
  const killedAt = performance.now();
  if (executorB.isReconciling) throw new Error("B took the Lease before A was killed: raise leaseDurationSeconds above the submission time");
  const jobs = (await bed.k.batch.listNamespacedJob({ namespace: bed.namespace, labelSelector: "app.kubernetes.io/managed-by" })).items;
  const unrecorded = jobs.filter((job) => job.metadata?.annotations?.[annotationKeys.reported] === undefined).length;

  while (!executorB.isReconciling) {
    if (performance.now() - killedAt > (leaseDurationSeconds + 60) * 1000) throw new Error("B never took the Lease");
    await sleep(20);
  }
  const ledAt = performance.now();
  // resume() queued every Job in B's cache when it took the Lease; idle() resolves once none is left.
  await executorB.idle();
  const doneAt = performance.now();
  const after = (await bed.k.batch.listNamespacedJob({ namespace: bed.namespace, labelSelector: "app.kubernetes.io/managed-by" })).items;
  const stillUnrecorded = after.filter((job) => job.metadata?.annotations?.[annotationKeys.reported] === undefined).length;

  console.log(`\n${jobs.length} build Jobs in flight (submitted in ${submitSeconds.toFixed(1)} s, half through the leader A, half through B while A was stopped); A SIGKILLed; ${unrecorded} with no status recorded`);
  console.log(`| what | s | against |\n| --- | --- | --- |`);
  console.log(`| A stopped (its last renewal at most retryPeriod before) → B takes the Lease | ${((ledAt - stoppedAt) / 1000).toFixed(2)} | leaseDurationSeconds ${leaseDurationSeconds} |`);
  console.log(`| B takes the Lease → every Job reconciled | ${((doneAt - ledAt) / 1000).toFixed(2)} | goal ≤ 5 s |`);
  console.log(`statuses B sent: ${sent.length} (Jobs A had not recorded one for: ${unrecorded}; left unrecorded after B: ${stillUnrecorded})`);
  console.log(`load average at end: ${load()}`);
} finally {
  a?.kill("SIGKILL");
  await b?.close();
  const jobs = await bed.k.batch.listNamespacedJob({ namespace: bed.namespace });
  const names = jobs.items.filter((j) => j.metadata?.finalizers?.length).map((j) => j.metadata!.name!);
  while (names.length) {
    await Promise.all(names.splice(0, 32).map((name) => bed.k.batch.patchNamespacedJob({ namespace: bed.namespace, name, body: [{ op: "remove", path: "/metadata/finalizers" }] }).catch(() => undefined)));
  }
  await bed.close();
}
