// Wall time of one three-platform build (windows ltsc2019 + ltsc2022 +
// linux/amd64, one index) against the same three platforms built as single
// builds one after the other, in the same run; then the same three-platform
// build again, unchanged, against the first (cache). Run:
//   test/bed/up && npx tsx bench/multi-platform.ts [rounds]
//
// The Dockerfile is the pattern dockhand is for: the binary is built once in
// a Linux stage (`--platform=$BUILDPLATFORM`, a RUN that takes about 10 s
// like a compile) and COPY'd onto each version's base, so every platform
// goes to BuildKit (the dockerd pool on the bed is an emulation: its timings
// would say nothing about Windows). BuildKit exports and imports its
// registry cache per platform (buildkit.cacheRepository). Times run from
// POST /v1/builds to the build's final state as GET /v1/builds/{id} shows it
// (for the multi-platform build: its index pushed).

import { performance } from "node:perf_hooks";
import type { Dispatcher } from "../dispatcher/dispatcher.js";
import { buildRequest, ctx, postBuild, setUpBed, startBedDispatcher, uploadContext } from "../test/integration/harness.js";

const rounds = Number(process.argv[2] ?? 1);
const platforms = ["windows/amd64:ltsc2019", "windows/amd64:ltsc2022", "linux/amd64"];

const bed = await setUpBed("bench-mp");
const registry = bed.env.REGISTRY;
const dispatcher: Dispatcher = await startBedDispatcher(bed, (config) => ({
  ...config,
  registry: { ...config.registry, validatePlatform: true },
  buildkit: { ...config.buildkit, cacheRepository: `${registry}/bench/mp-cache` },
}));

function dockerfile(nonce: string): string {
  return [
    "ARG WINDOWS_VERSION=ltsc2022",
    `FROM --platform=$BUILDPLATFORM ${bed.env.LINUX_BASE_IMAGE} AS build`,
    "COPY src.txt /src/src.txt",
    // Stands in for a compile: about 10 s of CPU here, its output depending on the source.
    `RUN i=0; while [ $i -lt 12000000 ]; do i=$((i+1)); done; cat /src/src.txt > /out.bin && echo ${nonce} >> /out.bin`,
    `FROM ${bed.env.WINDOWS_BASE_IMAGE}:\${WINDOWS_VERSION} AS base-windows`,
    `FROM ${bed.env.LINUX_BASE_IMAGE} AS base-linux`,
    "FROM base-${TARGETOS}",
    "COPY --from=build /out.bin /app/app.bin",
    "",
  ].join("\n");
}

let builds = 0;
/** Seconds from POST to the build's final state. */
async function build(context: string, requested: string[], repository: string): Promise<number> {
  const started = performance.now();
  const res = await postBuild(
    dispatcher.url,
    buildRequest(context, { platforms: requested, tags: [`${registry}/bench/${repository}:1`], idempotencyKey: `bench-mp/${Date.now()}/${builds++}` }),
  );
  if (res.status !== 202) throw new Error(`POST /v1/builds: ${res.status} ${JSON.stringify(res.body)}`);
  for (;;) {
    const state = (await (await fetch(`${dispatcher.url}/v1/builds/${res.body.id}`)).json()) as { state: string; platforms: { platform: string; state: string; message?: string }[] };
    if (!["queued", "running"].includes(state.state)) {
      if (state.state !== "succeeded") throw new Error(`build ${res.body.id} ended ${state.state}: ${JSON.stringify(state.platforms)}`);
      return (performance.now() - started) / 1000;
    }
    await new Promise((r) => setTimeout(r, 200));
  }
}

const fmt = (s: number) => s.toFixed(1);
const rows: { multi: number; singles: number[]; cached: number }[] = [];
try {
  // Warm-up: base images pulled into buildkitd once, so no measured build pays for it.
  await build(await uploadContext(dispatcher.url, ctx(dockerfile("warm-up"), { "src.txt": "warm-up\n" })), platforms, "mp-warm");
  for (let round = 0; round < rounds; round++) {
    const nonce = () => `${Date.now()}-${Math.random().toString(36).slice(2)}`;
    const fresh = async () => {
      const n = nonce();
      return uploadContext(dispatcher.url, ctx(dockerfile(n), { "src.txt": `source ${n}\n` }));
    };
    const multiContext = await fresh();
    const multi = await build(multiContext, platforms, "mp-multi");
    const singles: number[] = [];
    for (const platform of platforms) singles.push(await build(await fresh(), [platform], `mp-single-${platform.replace(/[/:]/g, "-")}`));
    // Same context again: every step comes from the cache.
    const cached = await build(multiContext, platforms, "mp-multi");
    rows.push({ multi, singles, cached });
    console.log(
      `round ${round + 1}: three-platform ${fmt(multi)} s; singles ${singles.map(fmt).join(" + ")} = ${fmt(singles.reduce((a, b) => a + b, 0))} s; three-platform again (cache) ${fmt(cached)} s`,
    );
  }
  const median = (xs: number[]) => {
    const sorted = [...xs].sort((a, b) => a - b);
    const middle = Math.floor(sorted.length / 2);
    return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
  };
  const multi = median(rows.map((r) => r.multi));
  const singles = median(rows.map((r) => r.singles.reduce((a, b) => a + b, 0)));
  const cached = median(rows.map((r) => r.cached));
  console.log("\n| build | wall s |\n| --- | --- |");
  console.log(`| three platforms in one request (one index) | ${fmt(multi)} |`);
  console.log(`| the three as single builds, one after the other | ${fmt(singles)} |`);
  console.log(`| three platforms again, unchanged context (cache) | ${fmt(cached)} |`);
  console.log(`\nratio one request / three singles: ${(multi / singles).toFixed(2)}×; second build / first: ${(cached / multi).toFixed(2)}× (median of ${rows.length} round${rows.length === 1 ? "" : "s"})`);
} finally {
  await dispatcher.close();
  await bed.close();
}
