// End to end: a small Linux build through the bundled Action (dist/main.mjs,
// run as the runner runs it: test/action/runner-contract.ts) against the
// bed's dispatcher and BuildKit, next to `buildctl build` of the same kind of
// context on the same BuildKit, alternating, a fresh nonce file per build so
// nothing but the base comes from the cache.
//
//   test/bed/up && npm run build && npx tsx bench/end-to-end.ts [runs=30]
//
// Per run, the phase budget from the dispatcher's own request log: node start
// → HEAD /v1/contexts (start-up and packing), → POST /v1/builds (upload),
// the POST itself (accept), → logs stream closed (build, final state),
// → step exit; and how many times the step opened the log stream (1 = no
// reconnect). Goal (issue 15): step wall time ≤ buildctl + 0.75 s at the
// median and + 1 s at p99.

import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { Writable } from "node:stream";
import pino from "pino";
import { bedProcessEnv } from "../test/bed/bed-env.js";
import { runStep, workspace } from "../test/action/runner-contract.js";
import { startDispatcher } from "../dispatcher/dispatcher.js";
import { bedSharedSecret, freePort, setUpBed } from "../test/integration/harness.js";

const runs = Number(process.argv[2] ?? 30);
const load = () => readFileSync("/proc/loadavg", "utf8").split(" ").slice(0, 3).join(" ");
console.log(`load average at start: ${load()}`);

interface RequestLine {
  at: number;
  method: string;
  url: string;
  doneAt?: number;
  responseTime?: number;
}
const requests = new Map<string, RequestLine>();
const sink = new Writable({
  write(chunk: Buffer, _encoding, done) {
    for (const text of chunk.toString("utf8").split("\n")) {
      if (!text.includes('"reqId"')) continue;
      const line = JSON.parse(text) as { time: number; reqId: string; msg: string; req?: { method: string; url: string }; responseTime?: number };
      if (line.msg === "incoming request" && line.req) requests.set(line.reqId, { at: line.time, method: line.req.method, url: line.req.url });
      if (line.msg === "request completed") {
        const request = requests.get(line.reqId);
        if (request) Object.assign(request, { doneAt: line.time, responseTime: line.responseTime });
      }
    }
    done();
  },
});

const percentile = (values: number[], p: number) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
};

const bed = await setUpBed("bench-e2e");
const dispatcher = await startDispatcher(bed.config(await freePort()), { logger: pino({ level: "info" }, sink) });
try {
  const dockerfile = `FROM ${bed.env.LINUX_BASE_IMAGE}\nCOPY nonce.txt /nonce.txt\n`;
  const action = async (i: number) => {
    const nonce = `action-${Date.now()}-${i}`;
    const context = { workspace: workspace({ Dockerfile: dockerfile, "nonce.txt": nonce }), runId: nonce };
    requests.clear();
    const started = Date.now();
    const t = performance.now();
    const result = await runStep("main", { "dispatcher-url": dispatcher.url, auth: "secret", secret: bedSharedSecret, platforms: "linux/amd64", push: "true", tags: `${bed.env.REGISTRY}/bench/e2e:${i}` }, context);
    const wall = (performance.now() - t) / 1000;
    const ended = Date.now();
    if (result.exitCode !== 0) throw new Error(`the step failed (${result.exitCode}):\n${result.stdout.slice(-2000)}`);
    const all = [...requests.values()].sort((a, b) => a.at - b.at);
    const head = all.find((r) => r.method === "HEAD" && r.url.startsWith("/v1/contexts/"));
    const post = all.find((r) => r.method === "POST" && r.url === "/v1/builds");
    const logs = all.filter((r) => r.method === "GET" && r.url.includes("/logs"));
    const lastLogs = logs.at(-1);
    const ms = (from: number | undefined, to: number | undefined) => (from === undefined || to === undefined ? NaN : to - from);
    return {
      wall,
      logOpens: logs.length,
      phases: {
        start: ms(started, head?.at),
        upload: ms(head?.at, post?.at),
        accept: post?.responseTime ?? NaN,
        build: ms(post?.doneAt, lastLogs?.doneAt),
        exit: ms(lastLogs?.doneAt, ended),
      },
    };
  };
  const direct = async (i: number) => {
    const dir = mkdtempSync(join(tmpdir(), "dh-e2e-direct-"));
    writeFileSync(join(dir, "Dockerfile"), dockerfile);
    writeFileSync(join(dir, "nonce.txt"), `direct-${Date.now()}-${i}`);
    const t = performance.now();
    await new Promise<void>((resolve, reject) => {
      const child = spawn(
        "buildctl",
        ["--addr", bed.env.BUILDKIT_HOST, "build", "--frontend", "dockerfile.v0", "--local", `context=${dir}`, "--local", `dockerfile=${dir}`, "--opt", "platform=linux/amd64", "--output", `type=image,name=${bed.env.REGISTRY}/bench/e2e-direct:${i},push=true,registry.insecure=true`],
        { env: bedProcessEnv(), stdio: ["ignore", "ignore", "pipe"] },
      );
      let err = "";
      child.stderr!.on("data", (c: Buffer) => (err += c));
      child.on("exit", (code) => (code === 0 ? resolve() : reject(new Error(`buildctl: ${code}: ${err.slice(-1000)}`))));
    });
    return (performance.now() - t) / 1000;
  };

  await action(999); // warm: the base image into BuildKit's cache, the dispatcher's JIT
  await direct(999);
  const rows: { action: Awaited<ReturnType<typeof action>>; direct: number }[] = [];
  console.log("| run | step s | buildctl s | over s | start ms | upload ms | accept ms | build ms | exit ms | log opens |\n| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |");
  for (let i = 0; i < runs; i++) {
    // Alternate which goes first, so neither always runs right after the other.
    const [a, d] = i % 2 === 0 ? [await action(i), await direct(i)] : await direct(i).then(async (d) => [await action(i), d] as const);
    rows.push({ action: a, direct: d });
    const p = a.phases;
    console.log(`| ${i} | ${a.wall.toFixed(2)} | ${d.toFixed(2)} | ${(a.wall - d).toFixed(2)} | ${p.start} | ${p.upload} | ${p.accept.toFixed(0)} | ${p.build} | ${p.exit} | ${a.logOpens} |`);
  }
  const over = rows.map((r) => r.action.wall - r.direct);
  console.log(
    `\nstep median ${percentile(rows.map((r) => r.action.wall), 50).toFixed(2)} s, buildctl median ${percentile(rows.map((r) => r.direct), 50).toFixed(2)} s; ` +
      `over buildctl: median +${percentile(over, 50).toFixed(2)} s (goal ≤ +0.75), p99 +${percentile(over, 99).toFixed(2)} s (goal ≤ +1); ` +
      `runs that reopened the log stream: ${rows.filter((r) => r.action.logOpens > 1).length} of ${rows.length}`,
  );
  const phase = (name: keyof Awaited<ReturnType<typeof action>>["phases"]) => percentile(rows.map((r) => r.action.phases[name]), 50).toFixed(0);
  console.log(`phase medians, ms: start ${phase("start")}, upload ${phase("upload")}, accept ${phase("accept")}, build ${phase("build")}, exit ${phase("exit")}`);
  console.log(`load average at end: ${load()}`);
} finally {
  await dispatcher.close();
  await bed.close();
}
