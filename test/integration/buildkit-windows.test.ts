// BuildKit on the Windows nodes (issue 16, builder buildkit-windows) on the
// bed: the dispatcher chooses it for a Windows RUN where the operator enabled
// it (buildkitWindows.versions), creates a Job that mounts the node's
// \\.\pipe\buildkitd and runs buildctl with no shell, admits it to a node
// whose buildkitd-windows pod is Ready, and reports each choice in its
// status. The pool is the bed's EMULATION (test/cluster/README.md): the pods
// of deploy/components/buildkitd-windows-<version> run `testcluster
// emulated-buildkitd`, whose pipe leads to the bed's one Linux buildkitd; a
// Windows RUN there runs as a Linux process in a Windows-shaped busybox image
// (EMULATED_WINDOWS_SHELL_IMAGE), so the Dockerfile names /bin/sh as its
// SHELL, which a real Windows node would not have.

import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Dispatcher } from "../../dispatcher/dispatcher.js";
import type { Config } from "../../dispatcher/config/schema.js";
import type { RecordedStatus } from "../github-standin/github-standin.js";
import { readManifest } from "../bed/registry.js";
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

const buildctlImage = (version: string) => `ghcr.io/dockhand-dev/buildctl-windows:v0.34.2-${version}`;
const hypervLabel = "dockhand.dev/hyperv";

let bed: Bed;
let dispatcher: Dispatcher;
let labelledBefore: string | undefined;

const kubectl = (...args: string[]) => bedKubectl(bed.env, ...args);

/** The EMULATED Hyper-V feature of a node (test/cluster/nodeagent/hyperv_emulation.go); returns its undo. */
function enableHypervFeature(node: string): () => void {
  const file = hypervFeatureFile(bed.env, node);
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, "");
  return () => rmSync(dirname(file), { recursive: true, force: true });
}

// One Dockerfile for both engines: dockerd builds FROM the bed's Linux busybox
// (the emulated dockerd is Linux), BuildKit on the Windows pool FROM the
// Windows-shaped busybox, chosen per version by the request's baseImages.
// The ARG makes each version's RUN, and so its cached image, its own.
const dockerfile = () =>
  [
    `ARG DOCKHAND_BASE_IMAGE=${bed.env.LINUX_BASE_IMAGE}`,
    "FROM ${DOCKHAND_BASE_IMAGE}",
    "ARG WINDOWS_VERSION",
    'SHELL ["/bin/sh", "-c"]',
    "RUN echo built-for-${WINDOWS_VERSION} > /built.txt",
    "",
  ].join("\n");

beforeAll(async () => {
  bed = await setUpBed("dh-bkwin");
  if (!bed.env.EMULATED_WINDOWS_SHELL_IMAGE || !bed.env.BUILDKITD_WINDOWS_VERSIONS) {
    throw new Error("the bed predates the emulated Windows BuildKit pool: restart it (test/bed/down, test/bed/up)");
  }
  labelledBefore = kubectl("get", "node", "win-ltsc2022-0", "-o", "jsonpath={.metadata.labels.dockhand\\.dev/hyperv}") || undefined;
  dispatcher = await startBedDispatcher(bed, (config): Config => ({
    ...config,
    dockerPool: {
      ...config.dockerPool,
      pools: {
        ...bedDockerPool().pools,
        ltsc2019: { nodeSelector: { [hypervLabel]: "true" }, tolerations: windowsTolerations, isolation: "hyperv" },
      },
    },
    buildkitWindows: {
      versions: ["ltsc2022"],
      images: { ltsc2019: buildctlImage("ltsc2019"), ltsc2022: buildctlImage("ltsc2022"), ltsc2025: buildctlImage("ltsc2025") },
    },
  }));
});

afterAll(async () => {
  await dispatcher?.close();
  if (bed) {
    kubectl("label", "node", "win-ltsc2022-0", "--overwrite", labelledBefore === undefined ? `${hypervLabel}-` : `${hypervLabel}=${labelledBefore}`);
    await bed.close();
  }
});

async function submit(platforms: string[], key: string, extra: Record<string, unknown> = {}) {
  const context = await uploadContext(dispatcher.url, ctx(dockerfile()));
  const res = await postBuild(
    dispatcher.url,
    buildRequest(context, {
      platforms,
      tags: [`${bed.env.REGISTRY}/bed/bkwin-${key}:1`],
      baseImages: { ltsc2022: `${bed.env.EMULATED_WINDOWS_SHELL_IMAGE}:ltsc2022` },
      idempotencyKey: `bkwin/${key}/${Date.now()}`,
      ...extra,
    }),
  );
  return res;
}

const statusesOf = (all: RecordedStatus[], buildId: string) => all.filter((s) => s.target_url?.endsWith(`/v1/builds/${buildId}`));
const finalOf = (buildId: string, contexts: number) => (all: RecordedStatus[]) =>
  new Set(statusesOf(all, buildId).filter((s) => finalStates.has(s.state)).map((s) => s.context)).size >= contexts;

describe("builder buildkit-windows", () => {
  it("builds a Windows RUN with BuildKit on the ltsc2022 pool: the pipe mounted, buildctl with no shell, admitted to the node whose buildkitd is Ready, each step in its status", async () => {
    const res = await submit(["windows/amd64:ltsc2022"], "one");
    expect(res.status, JSON.stringify(res.body)).toBe(202);
    const build = res.body as { id: string; platforms: { job: string; builder: string; builderReason: string }[] };
    expect(build.platforms[0]).toMatchObject({ builder: "buildkit-windows", builderReason: "windows stage #0 has RUN (line 5): BuildKit on the Windows pool" });

    const job = await bed.k.batch.readNamespacedJob({ namespace: bed.namespace, name: build.platforms[0]!.job });
    const pod = job.spec!.template.spec!;
    expect(pod.volumes?.[0]).toMatchObject({ name: "buildkitd", hostPath: { path: "\\\\.\\pipe\\buildkitd" } });
    expect(pod.containers[0]!.command!.slice(0, 3)).toEqual(["buildctl", "--addr=npipe:////./pipe/buildkitd", "build"]);
    expect(pod.containers[0]!.image).toBe(buildctlImage("ltsc2022"));

    const statuses = statusesOf(await waitForStatuses(bed.github, finalOf(build.id, 1)), build.id);
    expect(statuses[0]).toMatchObject({ state: "pending", context: "dockhand/windows-ltsc2022" });
    // The first pending says why (a fast build may go straight on to its result).
    expect(statuses[0]!.description).toContain("has RUN (line 5): BuildKit on the Windows pool");
    const final = statuses.find((s) => finalStates.has(s.state))!;
    expect(final.state, final.description ?? "").toBe("success");
    const admitted = await bed.k.batch.readNamespacedJob({ namespace: bed.namespace, name: build.platforms[0]!.job });
    expect(admitted.metadata?.annotations?.["dockhand.dev/node"]).toBe("win-ltsc2022-0");

    // What BuildKit pushed is a Windows image of the ltsc2022 build.
    const manifest = await readManifest(bed.env.REGISTRY, "bed/bkwin-one", "1");
    const config = await (await fetch(`http://${bed.env.REGISTRY}/v2/bed/bkwin-one/blobs/${manifest.body.config.digest}`)).json();
    expect(config).toMatchObject({ os: "windows", architecture: "amd64", "os.version": expect.stringMatching(/^10\.0\.20348\./) });
  });

  it("refuses builder buildkit-windows for a version whose pool runs no BuildKit, and creates nothing", async () => {
    const before = (await bed.k.batch.listNamespacedJob({ namespace: bed.namespace })).items.length;
    const res = await submit(["windows/amd64:ltsc2025"], "refused", { builder: "buildkit-windows", baseImages: {} });
    expect(res.status).toBe(422);
    expect(res.body).toMatchObject({
      error: 'builder: "buildkit-windows" cannot build windows/amd64:ltsc2025: this cluster runs no BuildKit on its ltsc2025 nodes',
      field: "builder",
    });
    expect((await bed.k.batch.listNamespacedJob({ namespace: bed.namespace })).items.length).toBe(before);
  });

  it("ltsc2019 (hyperv on ltsc2022, dockerd) + ltsc2022 (BuildKit there) + ltsc2025 (dockerd): each choice in its status, one index with three os.version entries", async () => {
    kubectl("label", "node", "win-ltsc2022-0", "--overwrite", `${hypervLabel}=true`);
    const hypervFeature = enableHypervFeature("win-ltsc2022-0");
    try {
      const res = await submit(["windows/amd64:ltsc2019", "windows/amd64:ltsc2022", "windows/amd64:ltsc2025"], "three");
      expect(res.status, JSON.stringify(res.body)).toBe(202);
      const build = res.body as { id: string; platforms: { platform: string; builder: string; builderReason: string }[] };
      expect(build.platforms.map((p) => [p.platform, p.builder, p.builderReason])).toEqual([
        ["windows/amd64:ltsc2019", "docker", "windows stage #0 has RUN (line 5): dockerd pool; ltsc2019 on an ltsc2022 node, Hyper-V isolation"],
        ["windows/amd64:ltsc2022", "buildkit-windows", "windows stage #0 has RUN (line 5): BuildKit on the Windows pool"],
        ["windows/amd64:ltsc2025", "docker", "windows stage #0 has RUN (line 5): dockerd pool"],
      ]);
      const statuses = statusesOf(await waitForStatuses(bed.github, finalOf(build.id, 4), 300_000), build.id);
      const finals = statuses.filter((s) => finalStates.has(s.state));
      expect(finals.map((s) => `${s.context} ${s.state}`).sort(), finals.map((s) => s.description).join("; ")).toEqual([
        "dockhand/manifest success",
        "dockhand/windows-ltsc2019 success",
        "dockhand/windows-ltsc2022 success",
        "dockhand/windows-ltsc2025 success",
      ]);
      // Every pending description of a platform: the queued one carries the builder's reason.
      const pendingOf = (context: string) => statuses.filter((s) => s.context === context && s.state === "pending").map((s) => s.description).join(" | ");
      expect(pendingOf("dockhand/windows-ltsc2019")).toContain("Hyper-V isolation");
      expect(pendingOf("dockhand/windows-ltsc2022")).toContain("BuildKit on the Windows pool");
      expect(pendingOf("dockhand/windows-ltsc2025")).toContain("dockerd pool");

      const index = await readManifest(bed.env.REGISTRY, "bed/bkwin-three", "1");
      const platforms = (index.body.manifests as { platform: { os: string; "os.version"?: string } }[]).map((m) => m.platform);
      expect(platforms.map((p) => p.os)).toEqual(["windows", "windows", "windows"]);
      expect(platforms.map((p) => p["os.version"])).toEqual([
        expect.stringMatching(/^10\.0\.17763(\.|$)/),
        expect.stringMatching(/^10\.0\.20348(\.|$)/),
        expect.stringMatching(/^10\.0\.26100(\.|$)/),
      ]);
    } finally {
      hypervFeature();
    }
  });
});

describe("the emulated Windows BuildKit pool refuses what a Windows node would", () => {
  /** A bare pod on a Windows node running buildctl against the node's pipe, as a build Job's pod does; its final container state. */
  async function buildctlPod(node: string, version: string, command: string[]) {
    const name = `bkwin-${node.replace("win-", "")}-${version}-${Date.now() % 100000}`;
    await bed.k.core.createNamespacedPod({
      namespace: bed.namespace,
      body: {
        metadata: { name },
        spec: {
          os: { name: "windows" },
          nodeName: node,
          restartPolicy: "Never",
          tolerations: windowsTolerations,
          automountServiceAccountToken: false,
          containers: [{ name: "build", image: buildctlImage(version), command, volumeMounts: [{ name: "buildkitd", mountPath: "\\\\.\\pipe\\buildkitd" }] }],
          volumes: [{ name: "buildkitd", hostPath: { path: "\\\\.\\pipe\\buildkitd" } }],
        },
      },
    });
    for (let i = 0; i < 300; i++) {
      const pod = await bed.k.core.readNamespacedPod({ namespace: bed.namespace, name });
      const state = pod.status?.containerStatuses?.[0]?.state;
      if (state?.terminated) return { terminated: state.terminated, logs: await bed.k.core.readNamespacedPodLog({ namespace: bed.namespace, name }).catch(() => "") };
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    throw new Error(`${name} did not end`);
  }
  const workers = ["buildctl", "--addr=npipe:////./pipe/buildkitd", "debug", "workers"];

  it("answers on a node whose buildkitd pod runs", async () => {
    const { terminated } = await buildctlPod("win-ltsc2022-0", "ltsc2022", workers);
    expect(terminated.exitCode).toBe(0);
  });

  it("has no pipe on a node without a buildkitd pod (ltsc2019): buildctl cannot connect", async () => {
    const { terminated, logs } = await buildctlPod("win-ltsc2019-0", "ltsc2019", workers);
    expect(terminated.exitCode).not.toBe(0);
    expect(logs).toMatch(/buildkitd|connect|no such file/i);
  });

  it("refuses a buildctl image of another Windows build on a process-isolated pod, as hcsshim does", async () => {
    const { terminated } = await buildctlPod("win-ltsc2022-0", "ltsc2019", workers);
    expect(terminated.exitCode).not.toBe(0);
    expect(terminated.message ?? "").toContain("The container operating system does not match the host operating system");
  });

  it("fails a Windows RUN without SHELL: the frontend's cmd /S /C is not on the emulation (it is on a real node)", async () => {
    const context = await uploadContext(dispatcher.url, ctx(`FROM ${bed.env.EMULATED_WINDOWS_SHELL_IMAGE}:ltsc2022\nRUN echo hi\n`));
    const res = await postBuild(dispatcher.url, buildRequest(context, { platforms: ["windows/amd64:ltsc2022"], tags: [`${bed.env.REGISTRY}/bed/bkwin-noshell:1`], idempotencyKey: `bkwin/noshell/${Date.now()}` }));
    expect(res.status, JSON.stringify(res.body)).toBe(202);
    const build = res.body as { id: string };
    const statuses = statusesOf(await waitForStatuses(bed.github, finalOf(build.id, 1)), build.id);
    expect(statuses.find((s) => finalStates.has(s.state))?.state).toBe("failure");
    const logs = await (await fetch(`${dispatcher.url}/v1/builds/${build.id}/logs`)).text();
    // NDJSON lines: BuildKit's quotes come escaped.
    expect(logs).toContain('process \\"cmd /S /C echo hi\\" did not complete successfully');
  });
});
