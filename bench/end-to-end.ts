// End to end: a build through the bundled Action (dist/main.mjs, run as the
// runner runs it: test/action/runner-contract.ts) against the bed's
// dispatcher, next to the same builder run directly on the same context,
// alternating which goes first, a fresh nonce per build.
//
//   test/bed/up && npx tsx bench/end-to-end.ts [mode=linux] [runs=30] [cache=both]
//
// mode (each request and its floor, measured in the same run):
//   linux      COPY of a nonce file onto the bed's Linux base, linux/amd64,
//              against `buildctl build` on the same BuildKit.
//   windows    the same onto the bed's Nano Server ltsc2022 base (a COPY-only
//              Windows build, which dockhand sends to BuildKit on Linux),
//              windows/amd64:ltsc2022, against `buildctl build` with the
//              platform and build args the dispatcher passes.
//   three      ltsc2019 + ltsc2022 + ltsc2025 COPY-only in one request (three
//              Jobs, one index), against each version built directly with
//              `buildctl build`, one after the other (goal: ≤ 1.2× the
//              slowest), and the three buildctl builds at once (for context).
//   three-run  the three versions with a Windows RUN step (the dockerd pool)
//              against `docker build` + `docker push` per version on the
//              bed's dockerd, one after the other. The bed's pool is an
//              emulation proxying to that same Linux dockerd (test/README.md),
//              so this measures dockhand's path, not Windows.
// cache: cold (each build's context has a new nonce file: only the base
// comes from the cache), warm (the same context every build: every step
// from the cache, the upload a HEAD hit), or both (cold, then warm).
//
// Every build pushes to the bed registry; BuildKit builds are read back and
// their platform checked (registry.validatePlatform, on by default in
// production; off for three-run, whose emulated "Windows" images are Linux
// images). Per run, the phase budget, each from the point before, from the
// dispatcher's log and the bench's own watch on the build's pods and Jobs
// (for several platforms, the last of them; Date.now() throughout):
//   start     node start → HEAD /v1/contexts (the Action's start-up, packing)
//   upload    → POST /v1/builds arrives
//   accept    the POST (the dispatcher's response time)
//   job       → the last build pod created (the Job controller)
//   pod       → it started (the scheduler, the emulated kubelet)
//   build     → its build step done: the part comparable to the floor
//   cleanup   → every container done (the dockerd pool's cleanup steps)
//   complete  → the Job's Complete condition (the Job controller), which the
//             dispatcher waits for
//   readBack  → the pushed image read back (dispatcher log)
//   index     → the image index pushed (several platforms)
//   final     → the log stream closed (the build's final state)
//   exit      → the step exited
// and how many times the step opened the log stream (1 = no reconnect).
// Goal (issue 15): step ≤ floor + 0.75 s at the median and + 1 s at p99;
// the three-version request ≤ 1.2× the slowest single version.
// BENCH_LOG_DIR=<dir> keeps each run's dispatcher log (JSON lines).
// BENCH_STATUSES=instant (a diagnostic, not the goal's figure): commit
// statuses are answered at once instead of going to GitHub at its pace (one
// write a second per credential), to show how much of the path waits on them.
//
// Bounded: at most 200 runs, each step and each direct build killed after
// 300 s. The step's own dist/ is the committed one (`npm run build` first if
// action/ changed).

import { Watch, type V1Job, type V1Pod } from "@kubernetes/client-node";
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { Writable } from "node:stream";
import pino from "pino";
import { startDispatcher } from "../dispatcher/dispatcher.js";
import { windowsVersionArg } from "../dispatcher/plan/build-plan.js";
import { containerNames, labelKeys } from "../dispatcher/plan/names.js";
import { windowsBaseTagBuildArgs } from "../dispatcher/plan/windows-base-tags.js";
import type { WindowsVersion } from "../dispatcher/protocol/platforms.js";
import { runStep, workspace } from "../test/action/runner-contract.js";
import { bedProcessEnv } from "../test/bed/bed-env.js";
import { bedSharedSecret, freePort, setUpBed, type Bed } from "../test/integration/harness.js";

const modes = ["linux", "windows", "three", "three-run"] as const;
type Mode = (typeof modes)[number];
const mode = (process.argv[2] ?? "linux") as Mode;
const runs = Number(process.argv[3] ?? 30);
const cacheArg = process.argv[4] ?? "both";
if (!modes.includes(mode)) throw new Error(`mode: ${mode} is not one of ${modes.join(", ")}`);
if (!Number.isInteger(runs) || runs < 1 || runs > 200) throw new Error(`runs: ${process.argv[3]} is not 1-200`);
if (!["cold", "warm", "both"].includes(cacheArg)) throw new Error(`cache: ${cacheArg} is not cold, warm or both`);
const caches = cacheArg === "both" ? (["cold", "warm"] as const) : [cacheArg as "cold" | "warm"];
const timeoutMs = 300_000;
/** BENCH_LOG_DIR=<dir>: each run's dispatcher log lines, as <cache>-<run>.jsonl. */
const logDir = process.env["BENCH_LOG_DIR"];
const instantStatuses = process.env["BENCH_STATUSES"] === "instant";

const load = () => readFileSync("/proc/loadavg", "utf8").split(" ").slice(0, 3).join(" ");
console.log(`mode ${mode}, ${runs} runs, cache ${caches.join(" then ")}${instantStatuses ? ", commit statuses answered at once (BENCH_STATUSES=instant)" : ""}; load average at start: ${load()} (${(await import("node:os")).cpus().length} cores)`);

// ------------------------------------------------------------ what is built

/** One platform of the request, and how its floor builds it. */
interface Version {
  /** As the Action's `platforms` input names it. */
  platform: string;
  /** The OCI platform and build args the dispatcher passes its builder (plan/build-plan.ts). */
  ociPlatform: string;
  buildArgs: Record<string, string>;
}

const windowsVersion = (version: WindowsVersion): Version => ({
  platform: `windows/amd64:${version}`,
  ociPlatform: "windows/amd64",
  buildArgs: { [windowsVersionArg]: version, ...windowsBaseTagBuildArgs(version) },
});

function caseOf(bed: Bed): { builder: "buildkit" | "docker"; dockerfile: string; versions: Version[] } {
  const { LINUX_BASE_IMAGE, WINDOWS_BASE_IMAGE } = bed.env;
  // Nano Server's tag differs per version (1809 for ltsc2019): NANOSERVER_TAG, as a user's Dockerfile does.
  const copyOnly = `ARG NANOSERVER_TAG=ltsc2022\nFROM ${WINDOWS_BASE_IMAGE}:\${NANOSERVER_TAG}\nCOPY nonce.txt C:/nonce.txt\n`;
  const three = (["ltsc2019", "ltsc2022", "ltsc2025"] as const).map(windowsVersion);
  switch (mode) {
    case "linux":
      return { builder: "buildkit", dockerfile: `FROM ${LINUX_BASE_IMAGE}\nCOPY nonce.txt /nonce.txt\n`, versions: [{ platform: "linux/amd64", ociPlatform: "linux/amd64", buildArgs: {} }] };
    case "windows":
      return { builder: "buildkit", dockerfile: copyOnly, versions: [windowsVersion("ltsc2022")] };
    case "three":
      return { builder: "buildkit", dockerfile: copyOnly, versions: three };
    case "three-run":
      // The emulated pool builds on the bed's Linux dockerd, so the base is
      // Linux (test/README.md). WINDOWS_VERSION in the RUN gives each version
      // its own image on that one engine, as three Windows hosts would.
      return {
        builder: "docker",
        dockerfile: `FROM ${LINUX_BASE_IMAGE}\nARG WINDOWS_VERSION\nCOPY nonce.txt /nonce.txt\nRUN echo "$WINDOWS_VERSION $(cat /nonce.txt)" > /made.txt\n`,
        versions: three,
      };
  }
}

// ------------------------------------------------------------ measurement

const percentile = (values: number[], p: number) => {
  const sorted = values.filter((v) => !Number.isNaN(v)).sort((a, b) => a - b);
  return sorted.length === 0 ? NaN : sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
};

interface LogLine {
  time: number;
  msg: string;
  reqId?: string;
  req?: { method: string; url: string };
  responseTime?: number;
}
/** The dispatcher's log lines since the run began. */
let logLines: LogLine[] = [];
const sink = new Writable({
  write(chunk: Buffer, _encoding, done) {
    for (const text of chunk.toString("utf8").split("\n")) if (text.startsWith("{")) logLines.push(JSON.parse(text) as LogLine);
    done();
  },
});

/** When (Date.now()) the bench's watch first saw each thing of a build's pods and Jobs. */
interface PodTimes {
  added?: number;
  /** A container (init or main) running or done. */
  started?: number;
  /** The build step done: BuildKit's build container, the dockerd pool's last push. */
  built?: number;
  /** Every container done. */
  done?: number;
}
const pods = new Map<string, PodTimes>();
/** When each build Job was first seen Complete (the Job controller's condition, which the dispatcher waits for). */
const jobsComplete = new Map<string, number>();

function onPod(pod: V1Pod): void {
  const name = pod.metadata?.name;
  if (!name || !pod.metadata?.labels?.[labelKeys.buildId]) return;
  const now = Date.now();
  const times = pods.get(name) ?? { added: now };
  pods.set(name, times);
  const init = pod.status?.initContainerStatuses ?? [];
  const all = [...init, ...(pod.status?.containerStatuses ?? [])];
  if (times.started === undefined && all.some((c) => c.state?.running || c.state?.terminated)) times.started = now;
  const buildSteps = all.filter((c) => c.name === containerNames.build || c.name.startsWith("push-"));
  if (times.built === undefined && buildSteps.length > 0 && buildSteps.every((c) => c.state?.terminated)) times.built = now;
  if (times.done === undefined && all.length > 0 && all.every((c) => c.state?.terminated)) times.done = now;
}

function onJob(job: V1Job): void {
  const name = job.metadata?.name;
  if (!name || !job.metadata?.labels?.[labelKeys.buildId] || jobsComplete.has(name)) return;
  if (job.status?.conditions?.some((c) => c.type === "Complete" && c.status === "True")) jobsComplete.set(name, Date.now());
}

/** Watches the namespace's pods and Jobs until the returned function is called. */
function watchBuilds(bed: Bed): () => void {
  const aborts: AbortController[] = [];
  let stopped = false;
  const watch = <T>(path: string, on: (object: T) => void) => {
    const start = () => {
      if (stopped) return;
      new Watch(bed.k.kc)
        .watch(path, {}, (_phase: string, object: T) => on(object), () => {
          // The API server ends watches now and then: watch again.
          if (!stopped) setTimeout(start, 100);
        })
        .then((a) => aborts.push(a), () => !stopped && setTimeout(start, 500));
    };
    start();
  };
  watch(`/api/v1/namespaces/${bed.namespace}/pods`, onPod);
  watch(`/apis/batch/v1/namespaces/${bed.namespace}/jobs`, onJob);
  return () => {
    stopped = true;
    for (const a of aborts) a.abort();
  };
}

/** Runs a command to its end, killed after timeoutMs; rejects on a non-zero exit. */
function run(command: string, args: string[], cwd?: string, env: NodeJS.ProcessEnv = bedProcessEnv()): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const child = spawn(command, args, { env, cwd, stdio: ["ignore", "ignore", "pipe"] });
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    let err = "";
    child.stderr!.on("data", (c: Buffer) => (err += c));
    child.on("exit", (code, signal) => {
      clearTimeout(timer);
      if (code === 0) resolve();
      else reject(new Error(`${command} ${args.slice(0, 3).join(" ")}: ${code ?? signal}: ${err.slice(-1500)}`));
    });
  });
}

const bed = await setUpBed(`bench-e2e-${mode}`);
const { builder, dockerfile, versions } = caseOf(bed);
const registry = bed.env.REGISTRY;
const config = bed.config(await freePort());
// The bed turns the platform check off for its emulated dockerd pool's Linux images; BuildKit's are real.
const dispatcher = await startDispatcher({ ...config, registry: { ...config.registry, validatePlatform: builder === "buildkit" } }, {
  logger: pino({ level: "info" }, sink),
  ...(instantStatuses ? { report: async () => undefined } : {}),
});
const stopWatch = watchBuilds(bed);
const session = Date.now().toString(36);

type Cache = "cold" | "warm";
/** The file a build COPYs: new per build when cold, the same for every build when warm. */
const nonce = (cache: Cache, who: string, i: number) => (cache === "warm" ? `warm ${session}\n` : `${who} ${session} ${i} ${Math.random()}\n`);

async function action(cache: Cache, i: number) {
  const files = { Dockerfile: dockerfile, "nonce.txt": nonce(cache, "action", i) };
  const context = { workspace: workspace(files), runId: `${session}-${cache}-${i}` };
  logLines = [];
  pods.clear();
  jobsComplete.clear();
  const started = Date.now();
  const t = performance.now();
  const step = runStep(
    "main",
    {
      "dispatcher-url": dispatcher.url,
      auth: "secret",
      secret: bedSharedSecret,
      platforms: versions.map((v) => v.platform).join(","),
      push: "true",
      tags: `${registry}/bench/e2e-${mode}:${cache}-${i}`,
      timeout: `${timeoutMs / 1000}s`,
    },
    context,
  );
  const result = await step;
  rmSync(context.workspace, { recursive: true, force: true });
  const wall = (performance.now() - t) / 1000;
  const ended = Date.now();
  if (logDir) writeFileSync(join(logDir, `${cache}-${i}.jsonl`), logLines.map((l) => JSON.stringify(l)).join("\n"));
  if (result.exitCode !== 0) throw new Error(`the step failed (${result.exitCode}):\n${result.stdout.slice(-3000)}`);
  const requests = logLines.filter((l) => l.msg === "incoming request" && l.req);
  const completedAt = (reqId: string | undefined) => logLines.find((l) => l.msg === "request completed" && l.reqId === reqId);
  const head = requests.find((r) => r.req!.method === "HEAD" && r.req!.url.startsWith("/v1/contexts/"));
  const post = requests.find((r) => r.req!.method === "POST" && r.req!.url === "/v1/builds");
  const postDone = completedAt(post?.reqId);
  const logs = requests.filter((r) => r.req!.method === "GET" && r.req!.url.includes("/logs"));
  const logsDone = completedAt(logs.at(-1)?.reqId)?.time;
  const podTimes = [...pods.values()];
  // The last pod to reach each point is the one the build waits for.
  const last = (key: keyof PodTimes) => (podTimes.length < versions.length || podTimes.some((p) => p[key] === undefined) ? undefined : Math.max(...podTimes.map((p) => p[key]!)));
  const latest = (times: number[]) => (times.length === 0 ? undefined : Math.max(...times));
  const complete = jobsComplete.size < versions.length ? undefined : latest([...jobsComplete.values()]);
  const readBack = latest(logLines.filter((l) => l.msg === "pushed image read back").map((l) => l.time)) ?? complete;
  const indexPushed = latest(logLines.filter((l) => l.msg === "image index pushed").map((l) => l.time)) ?? readBack;
  const ms = (from: number | undefined, to: number | undefined) => (from === undefined || to === undefined ? NaN : to - from);
  return {
    wall,
    logOpens: logs.length,
    phases: {
      start: ms(started, head?.time),
      upload: ms(head?.time, post?.time),
      accept: postDone?.responseTime ?? NaN,
      job: ms(postDone?.time, last("added")),
      pod: ms(last("added"), last("started")),
      build: ms(last("started"), last("built")),
      cleanup: ms(last("built"), last("done")),
      complete: ms(last("done"), complete),
      readBack: ms(complete, readBack),
      index: ms(readBack, indexPushed),
      final: ms(indexPushed, logsDone),
      exit: ms(logsDone, ended),
    },
  };
}
type ActionRun = Awaited<ReturnType<typeof action>>;
type Phase = keyof ActionRun["phases"];
const phaseNames: Phase[] = ["start", "upload", "accept", "job", "pod", "build", "cleanup", "complete", "readBack", "index", "final", "exit"];

/** A directory holding the context the floor builds. */
function directContext(cache: Cache, i: number): string {
  const dir = mkdtempSync(join(tmpdir(), "dh-e2e-direct-"));
  writeFileSync(join(dir, "Dockerfile"), dockerfile);
  writeFileSync(join(dir, "nonce.txt"), nonce(cache, "direct", i));
  return dir;
}

/** One version built directly with the builder the dispatcher would use, pushed; seconds. */
async function directOne(dir: string, version: Version, tag: string): Promise<number> {
  const t = performance.now();
  if (builder === "buildkit") {
    await run("buildctl", [
      "--addr", bed.env.BUILDKIT_HOST, "build", "--frontend", "dockerfile.v0", "--local", `context=${dir}`, "--local", `dockerfile=${dir}`,
      "--opt", `platform=${version.ociPlatform}`,
      ...Object.entries(version.buildArgs).flatMap(([name, value]) => ["--opt", `build-arg:${name}=${value}`]),
      "--output", `type=image,name=${tag},push=true,registry.insecure=true`,
    ]);
  } else {
    // As the pool's Job runs it (plan/docker-job.ts): the classic builder, then the push.
    const env = { ...bedProcessEnv(), DOCKER_BUILDKIT: "0" };
    await run("docker", ["build", "--force-rm", `--tag=${tag}`, ...Object.entries(version.buildArgs).map(([n, v]) => `--build-arg=${n}=${v}`), dir], undefined, env);
    await run("docker", ["push", tag], undefined, env);
  }
  const seconds = (performance.now() - t) / 1000;
  if (builder === "docker") await run("docker", ["image", "rm", tag]).catch(() => undefined);
  return seconds;
}

const directTag = (cache: Cache, i: number, version: Version, suffix = "") => `${registry}/bench/e2e-${mode}-direct:${cache}-${i}-${version.platform.replace(/[/:]/g, "-")}${suffix}`;

/** Each version built directly, one after the other (the floor); with several, the same again all at once (context only). */
async function direct(cache: Cache, i: number): Promise<{ each: number[]; together?: number }> {
  const each: number[] = [];
  const dir = directContext(cache, i);
  try {
    for (const version of versions) each.push(await directOne(dir, version, directTag(cache, i, version)));
    if (versions.length === 1) return { each };
    const t = performance.now();
    await Promise.all(versions.map((version) => directOne(dir, version, directTag(cache, i, version, "-together"))));
    return { each, together: (performance.now() - t) / 1000 };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

// ------------------------------------------------------------ the runs

const summaries: string[] = [];
try {
  for (const cache of caches) {
    // Warm-up: the bases into the builder, the dispatcher's JIT, and for warm
    // the context itself into the cache (and the dispatcher's store).
    await action(cache, -1);
    await direct(cache, -1);
    const rows: { action: ActionRun; direct: { each: number[]; together?: number } }[] = [];
    const several = versions.length > 1;
    console.log(`\n## ${mode}, ${cache} cache (load average ${load()})\n`);
    console.log(
      `| run | step s | ${several ? "slowest single s | step / slowest | singles s | together s" : "floor s | over s"} | ${phaseNames.join(" ms | ")} ms | log opens |`,
    );
    console.log(`| ${Array.from({ length: (several ? 6 : 4) + phaseNames.length + 1 }, () => "---").join(" | ")} |`);
    for (let i = 0; i < runs; i++) {
      // Alternate which goes first, so neither always runs right after the other.
      const [a, d] = i % 2 === 0 ? [await action(cache, i), await direct(cache, i)] : await direct(cache, i).then(async (d) => [await action(cache, i), d] as const);
      rows.push({ action: a, direct: d });
      const slowest = Math.max(...d.each);
      const floorCells = several
        ? `${slowest.toFixed(2)} | ${(a.wall / slowest).toFixed(2)} | ${d.each.map((s) => s.toFixed(2)).join(" + ")} | ${d.together!.toFixed(2)}`
        : `${slowest.toFixed(2)} | ${(a.wall - slowest).toFixed(2)}`;
      console.log(`| ${i} | ${a.wall.toFixed(2)} | ${floorCells} | ${phaseNames.map((p) => a.phases[p].toFixed(0)).join(" | ")} | ${a.logOpens} |`);
    }
    const walls = rows.map((r) => r.action.wall);
    const slowests = rows.map((r) => Math.max(...r.direct.each));
    const over = rows.map((r) => r.action.wall - Math.max(...r.direct.each));
    const ratio = rows.map((r) => r.action.wall / Math.max(...r.direct.each));
    const phase = (name: Phase) => percentile(rows.map((r) => r.action.phases[name]), 50).toFixed(0);
    const reopened = rows.filter((r) => r.action.logOpens > 1).length;
    const lines = [
      `${mode}, ${cache} cache, ${rows.length} runs: step median ${percentile(walls, 50).toFixed(2)} s, p99 ${percentile(walls, 99).toFixed(2)} s; ` +
        `${several ? "slowest single version directly" : "floor"} median ${percentile(slowests, 50).toFixed(2)} s, p99 ${percentile(slowests, 99).toFixed(2)} s`,
      `over the floor, per run: median +${percentile(over, 50).toFixed(2)} s (goal ≤ +0.75), p99 +${percentile(over, 99).toFixed(2)} s (goal ≤ +1)` +
        (several
          ? `; step / slowest single: median ${percentile(ratio, 50).toFixed(2)}×, p99 ${percentile(ratio, 99).toFixed(2)}× (goal ≤ 1.2×); ` +
            `the singles all at once: median ${percentile(rows.map((r) => r.direct.together!), 50).toFixed(2)} s, one after the other: ${percentile(rows.map((r) => r.direct.each.reduce((x, y) => x + y, 0)), 50).toFixed(2)} s`
          : ""),
      `phase medians, ms: ${phaseNames.map((p) => `${p} ${phase(p)}`).join(", ")}; ` +
        `runs that reopened the log stream: ${reopened} of ${rows.length}`,
    ];
    console.log(`\n${lines.join("\n")}`);
    summaries.push(...lines);
  }
  console.log(`\n${summaries.join("\n")}\nload average at end: ${load()}`);
} finally {
  stopWatch();
  await dispatcher.close();
  await bed.close();
}
