// Hyper-V isolation (issue 16) on the bed: an ltsc2019 build whose pool is
// `isolation: hyperv` goes to the ltsc2022 pool's node labelled
// dockhand.dev/hyperv=true, with docker build --isolation=hyperv, and its
// statuses say so. The bed's emulated dockerd refuses a Hyper-V build on a
// node without the (emulated) Hyper-V feature, as Windows does
// (test/cluster/nodeagent/hyperv_emulation.go).
//
// The shared bed is left as found: the label and the feature file are this
// file's alone and removed in afterAll.

import { mkdirSync, readdirSync, readFileSync, readlinkSync, rmSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Dispatcher } from "../../dispatcher/dispatcher.js";
import type { Config } from "../../dispatcher/config/schema.js";
import type { RecordedStatus } from "../github-standin/github-standin.js";
import { readManifest } from "../bed/registry.js";
import { KubeConfig } from "@kubernetes/client-node";
import { runDoctor } from "../../dispatcher/doctor/doctor.js";
import {
  type Bed,
  bedDockerPool,
  bedKubectl,
  hypervFeatureFile,
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

const hostNode = "win-ltsc2022-0";
const hypervLabel = "dockhand.dev/hyperv";
const hostChoice = "ltsc2019 on an ltsc2022 node, Hyper-V isolation";

let bed: Bed;
let dispatcher: Dispatcher;
let featureFile: string;
let labelledBefore: string | undefined;

const kubectl = (...args: string[]) => bedKubectl(bed.env, ...args);
const nodeLabel = () => kubectl("get", "node", hostNode, "-o", `jsonpath={.metadata.labels.dockhand\\.dev/hyperv}`) || undefined;
const setLabel = (on: boolean) => kubectl("label", "node", hostNode, "--overwrite", on ? `${hypervLabel}=true` : `${hypervLabel}-`);
const setFeature = (on: boolean) => {
  if (on) {
    mkdirSync(dirname(featureFile), { recursive: true });
    writeFileSync(featureFile, "");
  } else rmSync(featureFile, { force: true });
};

/**
 * Whether the running emulated dockerd of the host node is the one that
 * knows Hyper-V (a bed started before it refuses every isolation, as Linux
 * dockerd does): the binary its process runs holds the feature file's name.
 */
function runningEmulationKnowsHyperv(): boolean {
  for (const pid of readdirSync("/proc").filter((entry) => /^\d+$/.test(entry))) {
    try {
      const cmdline = readFileSync(`/proc/${pid}/cmdline`, "utf8");
      if (!cmdline.includes("emulated-dockerd") || !cmdline.includes(`/node/${hostNode}/`)) continue;
      return readFileSync(readlinkSync(`/proc/${pid}/exe`)).includes("windows-features");
    } catch {
      continue;
    }
  }
  return false;
}

const staleBedMessage = "the bed's emulated dockerd predates Hyper-V emulation: restart the bed (test/bed/down, test/bed/up) to check the build's outcome";

/** A kept bed started before the emulation learnt Hyper-V cannot show these cases: say so as a failure, never a skip. */
function staleBed(): never {
  throw new Error(staleBedMessage);
}

beforeAll(async () => {
  bed = await setUpBed("dh-hyperv");
  featureFile = hypervFeatureFile(bed.env, hostNode);
  labelledBefore = nodeLabel();
  dispatcher = await startBedDispatcher(bed, (config): Config => ({
    ...config,
    dockerPool: {
      ...config.dockerPool,
      pools: {
        ...bedDockerPool().pools,
        ltsc2019: { nodeSelector: { [hypervLabel]: "true" }, tolerations: windowsTolerations, isolation: "hyperv" },
      },
    },
  }));
});

afterAll(async () => {
  await dispatcher?.close();
  if (bed) {
    if (labelledBefore === undefined) setLabel(false);
    else kubectl("label", "node", hostNode, "--overwrite", `${hypervLabel}=${labelledBefore}`);
    setFeature(false);
    // The directory too: nothing on the bed had it before (test/README.md).
    rmSync(dirname(featureFile), { recursive: true, force: true });
    await bed.close();
  }
});

// The ARG makes each version's RUN, and so its image and digest, its own: with one Linux
// base for every version, the same RUN would give ltsc2019 and ltsc2022 one cached image
// on win-ltsc2022-0's engine. (A build's last step once deleted its image and so could
// delete it under the other; it now leaves that to node-gc, plan/docker-job.ts.)
const runDockerfile = () => `FROM ${bed.env.LINUX_BASE_IMAGE}\nARG WINDOWS_VERSION\nRUN echo built-for-\${WINDOWS_VERSION}\n`;

async function submit(platforms: string[], key: string, tags: string[] = [`${bed.env.REGISTRY}/bed/hyperv-${key}:1`]) {
  const context = await uploadContext(dispatcher.url, ctx(runDockerfile()));
  const res = await postBuild(dispatcher.url, buildRequest(context, { platforms, tags, idempotencyKey: `hyperv/${key}/${Date.now()}` }));
  expect(res.status, JSON.stringify(res.body)).toBe(202);
  return res.body as { id: string; platforms: { platform: string; job: string; builder: string; builderReason: string }[] };
}

const statusesOf = (all: RecordedStatus[], buildId: string) => all.filter((s) => s.target_url?.endsWith(`/v1/builds/${buildId}`));
const finalOf = (buildId: string, contexts: number) => (all: RecordedStatus[]) =>
  new Set(statusesOf(all, buildId).filter((s) => finalStates.has(s.state)).map((s) => s.context)).size >= contexts;

async function jobOf(name: string) {
  return bed.k.batch.readNamespacedJob({ namespace: bed.namespace, name });
}

describe("an ltsc2019 pool with isolation hyperv", () => {
  it("the doctor's pool row reads the ltsc2022 node's Hyper-V label: FAIL with the fix without it, ok with it", async () => {
    const kc = new KubeConfig();
    kc.loadFromFile(bed.env.KUBECONFIG);
    const config = {
      ...bed.config(8080),
      dockerPool: { ...bed.config(8080).dockerPool, pools: { ...bedDockerPool().pools, ltsc2019: { nodeSelector: { [hypervLabel]: "true" }, tolerations: windowsTolerations, isolation: "hyperv" as const } } },
    };
    const row = async () =>
      (await runDoctor({ config, kc, serviceAccount: "dockhand-dispatcher", probeTimeoutSeconds: 30, only: ["pools"] })).find((r) => r.name === "pool ltsc2019 (hyperv): nodes");
    setLabel(false);
    expect(await row()).toMatchObject({ outcome: "FAIL", detail: expect.stringContaining(`no ltsc2022 node is labelled ${hypervLabel}=true (${hostNode})`) });
    setLabel(true);
    expect(await row()).toMatchObject({ outcome: "ok", detail: expect.stringContaining(`on 1 ltsc2022 node labelled ${hypervLabel}=true (${hostNode})`) });
  });

  it("places the build on the ltsc2022 node labelled Hyper-V capable, runs docker build --isolation=hyperv there, and says so in its pending status", async () => {
    setLabel(true);
    setFeature(true);
    const build = await submit(["windows/amd64:ltsc2019"], "placed");
    expect(build.platforms[0]!.builderReason).toBe(`windows stage #0 has RUN (line 3): dockerd pool; ${hostChoice}`);

    const job = await jobOf(build.platforms[0]!.job);
    expect(job.spec?.template.spec?.nodeSelector).toMatchObject({ [hypervLabel]: "true", "node.kubernetes.io/windows-build": "10.0.20348", agentpool: "win22" });
    expect(job.spec?.template.spec?.initContainers?.find((c) => c.name === "build")?.command).toContain("--isolation=hyperv");

    const statuses = statusesOf(await waitForStatuses(bed.github, finalOf(build.id, 1)), build.id);
    expect(statuses[0]).toMatchObject({ state: "pending", context: "dockhand/windows-ltsc2019" });
    expect(statuses[0]!.description).toContain(hostChoice);
    // Admitted to the ltsc2022 node's dockerd, and its pod ran there.
    const admitted = await jobOf(build.platforms[0]!.job);
    expect(admitted.metadata?.annotations?.["dockhand.dev/node"]).toBe(hostNode);
    const pods = await bed.k.core.listNamespacedPod({ namespace: bed.namespace, labelSelector: `batch.kubernetes.io/job-name=${build.platforms[0]!.job}` });
    expect(pods.items.map((pod) => pod.spec?.nodeName)).toEqual([hostNode]);

    // A bed that predates the Hyper-V emulation: its Linux dockerd refuses any isolation.
    if (!runningEmulationKnowsHyperv()) staleBed();
    const final = statuses.find((s) => finalStates.has(s.state))!;
    expect(final.state, final.description ?? "").toBe("success");
    // The choice is said in the pending (the builder's reason); the result says what was built.
    expect(final.description).toMatch(/^Built sha256:/);
  });

  it("fails, in Windows' words, on a labelled node whose engine has no Hyper-V (the emulation refuses as Windows does)", async () => {
    if (!runningEmulationKnowsHyperv()) staleBed();
    setLabel(true);
    setFeature(false);
    const build = await submit(["windows/amd64:ltsc2019"], "no-feature");
    const statuses = statusesOf(await waitForStatuses(bed.github, finalOf(build.id, 1)), build.id);
    const final = statuses.find((s) => finalStates.has(s.state))!;
    expect(final.state).toBe("failure");
    const logs = await (await fetch(`${dispatcher.url}/v1/builds/${build.id}/logs`)).text();
    expect(logs).toContain("a required feature is not installed");
  });

  it("without a labelled ltsc2022 node the build is unschedulable, and the error names the label to set", async () => {
    setLabel(false);
    const build = await submit(["windows/amd64:ltsc2019"], "unlabelled");
    const statuses = statusesOf(await waitForStatuses(bed.github, finalOf(build.id, 1)), build.id);
    const final = statuses.find((s) => finalStates.has(s.state))!;
    expect(final.state).toBe("error");
    expect(final.description).toMatch(/^No ltsc2022 node labelled dockhand\.dev\/hyperv=true takes this Hyper-V isolated build: label those/);
  });

  it("ltsc2019 (hyperv on ltsc2022) + ltsc2022 + ltsc2025 with RUN: three dockerd builds, each choice in its status, one index of three entries", async () => {
    if (!runningEmulationKnowsHyperv()) staleBed();
    setLabel(true);
    setFeature(true);
    const tag = `${bed.env.REGISTRY}/bed/hyperv-three:1`;
    const build = await submit(["windows/amd64:ltsc2019", "windows/amd64:ltsc2022", "windows/amd64:ltsc2025"], "three", [tag]);
    expect(build.platforms.map((p) => p.builder)).toEqual(["docker", "docker", "docker"]);
    const statuses = statusesOf(await waitForStatuses(bed.github, finalOf(build.id, 4), 300_000), build.id);
    const finals = new Map(statuses.filter((s) => finalStates.has(s.state)).map((s) => [s.context, s]));
    expect([...finals.values()].map((s) => `${s.context} ${s.state}`).sort()).toEqual([
      "dockhand/manifest success",
      "dockhand/windows-ltsc2019 success",
      "dockhand/windows-ltsc2022 success",
      "dockhand/windows-ltsc2025 success",
    ]);
    // Every pending of a platform: the first may be Queued or, its turn come late, Building; both say why.
    const pendingOf = (context: string) => statuses.filter((s) => s.context === context && s.state === "pending").map((s) => s.description).join(" | ");
    expect(pendingOf("dockhand/windows-ltsc2019")).toContain(hostChoice);
    expect(pendingOf("dockhand/windows-ltsc2022")).not.toContain("Hyper-V");
    const nodes = await Promise.all(build.platforms.map(async (p) => (await jobOf(p.job)).metadata?.annotations?.["dockhand.dev/node"]));
    expect(nodes).toEqual([hostNode, hostNode, "win-ltsc2025-0"]);
    const index = await readManifest(bed.env.REGISTRY, "bed/hyperv-three", "1");
    expect(index.body.manifests).toHaveLength(3);
  });
});
