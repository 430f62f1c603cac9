// The dockerd pools as a real Windows cluster has them, on the bed's
// emulation (test/cluster/nodeagent/windows_node_emulation.go): one pool per
// Windows version, tainted; a dockerd DaemonSet pod per node whose pipe
// exists only while it runs; CLI images the node can pull only when the
// catalogue has them. Each test here guards one item of what a real cluster
// would refuse or do (issue 10), and fails when that fix is taken out.

import { execFileSync } from "node:child_process";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Dispatcher } from "../../dispatcher/dispatcher.js";
import { readManifest } from "../bed/registry.js";
import {
  type Bed,
  bedKubectl,
  buildRequest,
  ctx,
  finalStates,
  postBuild,
  setUpBed,
  startBedDispatcher,
  uploadContext,
  waitForStatuses,
  windowsTolerations,
} from "./harness.js";
import type { RecordedStatus } from "../github-standin/github-standin.js";

let bed: Bed;

beforeAll(async () => {
  bed = await setUpBed("dh-pools");
});

afterAll(async () => {
  await bed?.close();
});

const runDockerfile = (tag: string) => `FROM ${bed.env.LINUX_BASE_IMAGE}\nRUN echo ${tag} > /made.txt\n`;

/** The statuses of one build (its target URL ends with the build id), in order. */
function statusesOf(all: RecordedStatus[], buildId: string): RecordedStatus[] {
  return all.filter((s) => s.target_url?.endsWith(`/v1/builds/${buildId}`));
}
const finalFor = (buildId: string) => (all: RecordedStatus[]) => statusesOf(all, buildId).some((s) => finalStates.has(s.state));

async function getBuild(dispatcher: Dispatcher, id: string) {
  const res = await fetch(`${dispatcher.url}/v1/builds/${id}`);
  expect(res.status).toBe(200);
  return res.json();
}

const kubectl = (...args: string[]) => bedKubectl(bed.env, ...args);

function localImageTags(): string[] {
  return execFileSync("docker", ["-H", bed.env.DOCKER_HOST, "images", "--format", "{{.Repository}}:{{.Tag}}"], { encoding: "utf8" })
    .split("\n")
    .filter(Boolean);
}

async function submit(dispatcher: Dispatcher, dockerfile: string, request: Record<string, unknown>) {
  const context = await uploadContext(dispatcher.url, ctx(dockerfile));
  const res = await postBuild(dispatcher.url, buildRequest(context, request));
  expect(res.status, JSON.stringify(res.body)).toBe(202);
  return res.body as { id: string; platforms: { job: string }[] };
}

describe("Docker CLI and dockerd versions (item 1)", () => {
  it("a CLI image whose client refuses the node's dockerd ends in error naming both API versions and the key, and the build step never runs", async () => {
    const dispatcher = await startBedDispatcher(bed, (config) => ({
      ...config,
      dockerPool: { ...config.dockerPool, images: { ...config.dockerPool.images, ltsc2022: "docker:29.1.0-windowsservercore-ltsc2022" } },
    }));
    try {
      const build = await submit(dispatcher, runDockerfile("skew"), {
        platforms: ["windows/amd64:ltsc2022"], tags: [`${bed.env.REGISTRY}/bed/pools-skew:1`], idempotencyKey: "pools/skew",
      });
      const statuses = statusesOf(await waitForStatuses(bed.github, finalFor(build.id)), build.id);
      expect(statuses.map((s) => s.state)).toEqual(["pending", "error"]);
      // The bed's dockerd is Debian's 20.10 (API 1.41); docker 29.1.0's client needs 1.44.
      expect(statuses[1]!.description).toMatch(
        /^The node's dockerd speaks API 1\.41, the CLI image docker:29\.1\.0-windowsservercore-ltsc2022 needs ≥ 1\.44: set dockerPool\.images\.ltsc2022/,
      );
      const state = await getBuild(dispatcher, build.id);
      expect(state.platforms[0]).toMatchObject({ state: "error", failedStep: { name: "preflight" } });
      expect(state.platforms[0].message).toContain("set dockerPool.images.ltsc2022 to a CLI that speaks 1.41");
      const pod = (await bed.k.core.listNamespacedPod({ namespace: bed.namespace, labelSelector: `batch.kubernetes.io/job-name=${build.platforms[0]!.job}` })).items[0];
      expect(pod?.status?.initContainerStatuses?.find((s) => s.name === "build")?.state?.terminated).toBeUndefined();
    } finally {
      await dispatcher.close();
    }
  });

  it("a CLI image the node cannot pull ends in error naming dockerPool.images.<version>, as ImagePullBackOff would", async () => {
    const dispatcher = await startBedDispatcher(bed, (config) => ({
      ...config,
      // docker 28 is a version dockhand knows, but nothing publishes this tag to the bed's nodes.
      dockerPool: { ...config.dockerPool, images: { ...config.dockerPool.images, ltsc2022: "docker:28-windowsservercore-ltsc2022" } },
    }));
    try {
      const build = await submit(dispatcher, runDockerfile("pull"), {
        platforms: ["windows/amd64:ltsc2022"], tags: [`${bed.env.REGISTRY}/bed/pools-pull:1`], idempotencyKey: "pools/pull",
      });
      const statuses = statusesOf(await waitForStatuses(bed.github, finalFor(build.id), 90_000), build.id);
      expect(statuses.map((s) => s.state)).toEqual(["pending", "error"]);
      expect(statuses[1]!.description).toMatch(
        /^Check dockerPool\.images\.ltsc2022: docker:28-windowsservercore-ltsc2022 could not start on win-ltsc2022-0 \((ErrImagePull|ImagePullBackOff), step preflight\)/,
      );
    } finally {
      await dispatcher.close();
    }
  });
});

describe("one pool per Windows version, tainted (items 4 and 5)", () => {
  it("builds ltsc2025 on its own pool's node, tolerating the pool's taint", async () => {
    const dispatcher = await startBedDispatcher(bed);
    try {
      const build = await submit(dispatcher, runDockerfile("2025"), {
        platforms: ["windows/amd64:ltsc2025"], tags: [`${bed.env.REGISTRY}/bed/pools-2025:1`], idempotencyKey: "pools/2025",
      });
      const statuses = statusesOf(await waitForStatuses(bed.github, finalFor(build.id)), build.id);
      expect(statuses.map((s) => s.state)).toEqual(["pending", "success"]);
      expect((await getBuild(dispatcher, build.id)).platforms[0]).toMatchObject({ node: "win-ltsc2025-0", builder: "docker" });
    } finally {
      await dispatcher.close();
    }
  });

  it("a pool configured without the taint's toleration ends in error with the scheduler's reason", async () => {
    const dispatcher = await startBedDispatcher(bed, (config) => ({
      ...config,
      dockerPool: { ...config.dockerPool, pools: { ...config.dockerPool.pools, ltsc2022: { nodeSelector: { agentpool: "win22" }, tolerations: [] } } },
    }));
    try {
      const build = await submit(dispatcher, runDockerfile("taint"), {
        platforms: ["windows/amd64:ltsc2022"], tags: [`${bed.env.REGISTRY}/bed/pools-taint:1`], idempotencyKey: "pools/taint",
      });
      const statuses = statusesOf(await waitForStatuses(bed.github, finalFor(build.id), 90_000), build.id);
      expect(statuses.map((s) => s.state)).toEqual(["pending", "error"]);
      expect(statuses[1]!.description).toMatch(/^Add the pool's taint to dockerPool\.pools\.ltsc2022\.tolerations: no node of agentpool=win22, /);
    } finally {
      await dispatcher.close();
    }
  });
});

describe("a pool no node belongs to (item 4)", () => {
  it("a pool whose selector no node has ends with status error naming the missing labels within the limit, and cleans up the Job", async () => {
    const noSuchPool = await startBedDispatcher(bed, (config) => ({
      ...config,
      dockerPool: { ...config.dockerPool, pools: { ...config.dockerPool.pools, ltsc2025: { nodeSelector: { agentpool: "win99" }, tolerations: windowsTolerations } } },
    }));
    try {
      const context = await uploadContext(noSuchPool.url, ctx(`FROM ${bed.env.LINUX_BASE_IMAGE}\nRUN echo never\n`));
      const res = await postBuild(
        noSuchPool.url,
        buildRequest(context, { platforms: ["windows/amd64:ltsc2025"], tags: [`${bed.env.REGISTRY}/bed/core-2025:1`], idempotencyKey: "core/2025" }),
      );
      expect(res.status).toBe(202);
      const started = Date.now();
      const statuses = statusesOf(await waitForStatuses(bed.github, finalFor(res.body.id), 60_000), res.body.id);
      expect(statuses.map((s) => s.state)).toEqual(["pending", "error"]);
      expect(statuses[1]!.description).toMatch(/10\.0\.26100/);
      expect(statuses[1]!.description).toMatch(/agentpool=win99/);
      expect(Date.now() - started).toBeLessThan((5 + 20) * 1000);
      await expect
        .poll(async () => (await bed.k.batch.listNamespacedJob({ namespace: bed.namespace })).items.map((j) => j.metadata!.name!), { timeout: 30_000 })
        .not.toContain(res.body.platforms[0].job);
    } finally {
      await noSuchPool.close();
    }
  });
});

describe("a node whose dockerd is not there (item 6)", () => {
  it("the build waits, queued and saying why, then runs once the node's dockerd is back", async () => {
    const dispatcher = await startBedDispatcher(bed, (config) => ({ ...config, limits: { ...config.limits, unschedulableAfterSeconds: 120 } }));
    const namespace = bed.env.DOCKERD_NAMESPACE!;
    // Takes the DaemonSet's pod off win-ltsc2019-0, as a rollout or a new node would leave it.
    kubectl("-n", namespace, "patch", "daemonset", "dockerd-ltsc2019", "--type=merge", "-p", '{"spec":{"template":{"spec":{"nodeSelector":{"dockhand.dev/bed-off":"true"}}}}}');
    try {
      await expect.poll(() => kubectl("-n", namespace, "get", "pods", "-l", "app.kubernetes.io/name=dockerd,dockhand.dev/windows-version=ltsc2019", "-o", "name"), { timeout: 60_000 }).toBe("");
      const build = await submit(dispatcher, runDockerfile("no-engine"), {
        platforms: ["windows/amd64:ltsc2019"], tags: [`${bed.env.REGISTRY}/bed/pools-no-engine:1`], idempotencyKey: "pools/no-engine",
      });
      const pending = await waitForStatuses(bed.github, (all) => statusesOf(all, build.id).length > 0, 30_000);
      expect(statusesOf(pending, build.id)[0]!.description).toMatch(/^Queued: waiting for a ltsc2019 node with a dockerd pod/);
      // Nothing was started on a node without an engine.
      expect((await bed.k.core.listNamespacedPod({ namespace: bed.namespace, labelSelector: `batch.kubernetes.io/job-name=${build.platforms[0]!.job}` })).items).toEqual([]);

      kubectl("-n", namespace, "patch", "daemonset", "dockerd-ltsc2019", "--type=json", "-p", '[{"op":"remove","path":"/spec/template/spec/nodeSelector/dockhand.dev~1bed-off"}]');
      const statuses = statusesOf(await waitForStatuses(bed.github, finalFor(build.id)), build.id);
      expect(statuses.map((s) => s.state)).toEqual(["pending", "success"]);
      expect((await getBuild(dispatcher, build.id)).platforms[0]).toMatchObject({ node: "win-ltsc2019-0" });
    } finally {
      kubectl("-n", namespace, "patch", "daemonset", "dockerd-ltsc2019", "--type=merge", "-p", '{"spec":{"template":{"spec":{"nodeSelector":{"dockhand.dev/bed-off":null}}}}}');
      await dispatcher.close();
    }
  });
});

describe("builds per node and the node's disk (items 7 and 8)", () => {
  it("limit 1, three builds on one node: they run one after another, the waiting ones say so, and only the internal tag, node-gc's to remove, stays in dockerd", async () => {
    const dispatcher = await startBedDispatcher(bed, (config) => ({ ...config, dockerPool: { ...config.dockerPool, maxBuildsPerNode: 1 } }));
    try {
      const builds: Awaited<ReturnType<typeof submit>>[] = [];
      for (const n of [1, 2, 3]) {
        builds.push(
          await submit(dispatcher, `FROM ${bed.env.LINUX_BASE_IMAGE}\nRUN sleep 2 && echo ${n}-${Date.now()} > /n.txt\n`, {
            platforms: ["windows/amd64:ltsc2022"], tags: [`${bed.env.REGISTRY}/bed/pools-limit:${n}`], idempotencyKey: `pools/limit-${n}`,
          }),
        );
      }
      const all = await waitForStatuses(bed.github, (s) => builds.every((b) => finalFor(b.id)(s)));
      for (const build of builds) expect(statusesOf(all, build.id).map((s) => s.state)).toEqual(["pending", "success"]);
      const waiting = builds.filter((b) => (statusesOf(all, b.id)[0]!.description ?? "").startsWith("Queued: waiting for a free build slot on the ltsc2022 pool"));
      expect(waiting.length).toBeGreaterThanOrEqual(2);

      const states = await Promise.all(builds.map(async (b) => (await getBuild(dispatcher, b.id)).platforms[0]));
      const spans = states.map((p) => ({ start: Date.parse(p.startedAt), end: Date.parse(p.finishedAt) })).sort((a, b) => a.start - b.start);
      for (let i = 1; i < spans.length; i++) expect(spans[i]!.start).toBeGreaterThanOrEqual(spans[i - 1]!.end - 1000);

      // Pushed, then the pushed names taken off the node's copy; the internal
      // tag keeps the image (a concurrent build may have just reached it
      // through the cache) until the node's node-gc removes it after its
      // --min-age (test/integration/node-gc.test.ts runs that on its own engine).
      for (const n of [1, 2, 3]) expect((await readManifest(bed.env.REGISTRY, "bed/pools-limit", String(n))).digest).toMatch(/^sha256:/);
      const left = localImageTags();
      expect(left.filter((t) => t.includes("bed/pools-limit"))).toEqual([]);
      expect(left.filter((t) => builds.some((b) => t.startsWith(`dockhand.invalid/build/${b.id}:`))).sort()).toEqual(
        builds.map((b) => `dockhand.invalid/build/${b.id}:win-ltsc2022`).sort(),
      );

      // node-gc runs beside dockerd on the node, with the DaemonSet's command
      // line, and has made its first pass (nothing is old enough to remove).
      const pod = kubectl("-n", bed.env.DOCKERD_NAMESPACE!, "get", "pods", "-l", "app.kubernetes.io/name=dockerd", "--field-selector=spec.nodeName=win-ltsc2022-0", "-o", "jsonpath={.items[0].metadata.name}");
      const gcLog = kubectl("-n", bed.env.DOCKERD_NAMESPACE!, "logs", pod, "-c", "node-gc");
      expect(gcLog).toMatch(/^node-gc: removed \d+ images/m);
      // --min-age (15m in deploy/) keeps what these builds just made.
      for (const build of builds) expect(gcLog).not.toContain(`dockhand.invalid/build/${build.id}:`);
    } finally {
      await dispatcher.close();
    }
  });
});

describe("a base image that is an index over several Windows versions (item 3)", () => {
  it("each platform is built on its own version's entry, ltsc2025 included: dockhand pins the base per platform with a named context", async () => {
    const dispatcher = await startBedDispatcher(bed, (config) => ({ ...config, registry: { ...config.registry, validatePlatform: true } }));
    try {
      const base = bed.env.MULTIVERSION_BASE_IMAGE!;
      const context = await uploadContext(dispatcher.url, ctx(`FROM ${base}\nCOPY app.txt C:/app/app.txt\n`, { "app.txt": `multi ${Date.now()}\n` }));
      const res = await postBuild(
        dispatcher.url,
        buildRequest(context, { platforms: ["windows/amd64:ltsc2019", "windows/amd64:ltsc2022", "windows/amd64:ltsc2025"], tags: [`${bed.env.REGISTRY}/bed/pools-multi:1`], idempotencyKey: "pools/multi" }),
      );
      expect(res.status, JSON.stringify(res.body)).toBe(202);
      await waitForStatuses(bed.github, (all) => statusesOf(all, res.body.id).filter((s) => finalStates.has(s.state)).length === 4);
      const build = await getBuild(dispatcher, res.body.id);
      expect(build.state, JSON.stringify(build.platforms.map((p: any) => p.message))).toBe("succeeded");

      // The base index's entry per Windows build, and the layers each pushed image starts with.
      const [baseRepo, baseTag] = base.slice(bed.env.REGISTRY.length + 1).split(":") as [string, string];
      const index = await readManifest(bed.env.REGISTRY, baseRepo, baseTag);
      for (const platform of build.platforms) {
        const windowsBuild = { "windows/amd64:ltsc2019": "10.0.17763", "windows/amd64:ltsc2022": "10.0.20348", "windows/amd64:ltsc2025": "10.0.26100" }[platform.platform as string]!;
        const entry = index.body.manifests.find((m: any) => m.platform["os.version"].startsWith(`${windowsBuild}.`));
        const entryLayers = (await readManifest(bed.env.REGISTRY, baseRepo, entry.digest)).body.layers.map((l: any) => l.digest);
        const pushed = (await readManifest(bed.env.REGISTRY, "bed/pools-multi", platform.digest)).body.layers.map((l: any) => l.digest);
        expect(pushed.slice(0, entryLayers.length), platform.platform).toEqual(entryLayers);
      }
    } finally {
      await dispatcher.close();
    }
  });
});

describe("MCR's real tags (item 2)", () => {
  it("nanoserver has no ltsc2019 tag on the bed, as on MCR: FROM it fails at pull; FROM ${NANOSERVER_TAG} builds ltsc2019 from 1809", async () => {
    const dispatcher = await startBedDispatcher(bed);
    try {
      const wrong = await submit(dispatcher, `FROM ${bed.env.WINDOWS_BASE_IMAGE}:ltsc2019\nCOPY Dockerfile C:/d\n`, {
        platforms: ["windows/amd64:ltsc2019"], tags: [`${bed.env.REGISTRY}/bed/pools-tags:wrong`], idempotencyKey: "pools/tags-wrong",
      });
      const right = await submit(dispatcher, `ARG NANOSERVER_TAG\nFROM ${bed.env.WINDOWS_BASE_IMAGE}:\${NANOSERVER_TAG}\nCOPY Dockerfile C:/d\n`, {
        platforms: ["windows/amd64:ltsc2019"], tags: [`${bed.env.REGISTRY}/bed/pools-tags:right`], idempotencyKey: "pools/tags-right",
      });
      const all = await waitForStatuses(bed.github, (s) => finalFor(wrong.id)(s) && finalFor(right.id)(s));
      expect(statusesOf(all, wrong.id).map((s) => s.state)).toEqual(["pending", "failure"]);
      expect(statusesOf(all, right.id).map((s) => s.state)).toEqual(["pending", "success"]);
      const lines = await (await fetch(`${dispatcher.url}/v1/builds/${wrong.id}/logs`)).text();
      expect(lines).toMatch(/nanoserver:ltsc2019: not found/);
    } finally {
      await dispatcher.close();
    }
  });
});
