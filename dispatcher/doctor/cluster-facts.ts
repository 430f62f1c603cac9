// The Kubernetes reads and writes the pool checks need: the pool's Nodes, its
// dockerd pods, and the probe Job (created, watched by polling, its logs
// read, then deleted with its pod).

import { randomBytes } from "node:crypto";
import { BatchV1Api, CoreV1Api, type KubeConfig, type V1Pod } from "@kubernetes/client-node";
import type { Config } from "../config/schema.js";
import { dockerdPodLabels } from "../plan/names.js";
import type { WindowsVersion } from "../protocol/platforms.js";
import { apiStatus } from "../kube/api-errors.js";
import { labelSelectorText, poolSelector, type PoolFacts } from "./pools.js";
import { probeJob, type ProbeFacts, type ProbePool } from "./probe.js";
import type { HypervPoolFacts } from "./hyperv.js";
import { hypervHostVersion } from "../plan/windows-host.js";

export async function poolFacts(kc: KubeConfig, config: Config, version: WindowsVersion): Promise<PoolFacts> {
  const core = kc.makeApiClient(CoreV1Api);
  const selector = poolSelector(config, version);
  const daemonNamespace = config.dockerPool.daemonNamespace ?? config.kubernetes.namespace;
  const withBuildkitd = config.buildkitWindows.versions.includes(version);
  const [nodes, pods] = await Promise.all([
    core.listNode({ labelSelector: labelSelectorText(selector) }).then(
      (list) => list.items,
      (error: unknown) => {
        // The dispatcher's own ServiceAccount has no Node access (a Role, never a ClusterRole).
        if (apiStatus(error) === 403) return { unreadable: "this identity may not list Nodes" };
        throw error;
      },
    ),
    // Both engines' pods of this version in one list, as the dispatcher's informer watches them.
    core
      .listNamespacedPod({
        namespace: daemonNamespace,
        labelSelector: `${dockerdPodLabels.name} in (${dockerdPodLabels.nameValue},${dockerdPodLabels.buildkitdNameValue}),${dockerdPodLabels.windowsVersion}=${version}`,
      })
      .then(
        (list) => list.items,
        (error: unknown) => {
          if (apiStatus(error) === 403) return { unreadable: `this identity may not list pods in ${daemonNamespace}` };
          throw error;
        },
      ),
  ]);
  const ofEngine = (value: string) => ("unreadable" in pods ? pods : pods.filter((pod) => pod.metadata?.labels?.[dockerdPodLabels.name] === value));
  return {
    version,
    selector,
    tolerations: config.dockerPool.pools[version]?.tolerations ?? [],
    nodes,
    daemonNamespace,
    dockerdPods: ofEngine(dockerdPodLabels.nameValue),
    ...(withBuildkitd ? { buildkitdPods: ofEngine(dockerdPodLabels.buildkitdNameValue) } : {}),
  };
}

/** The host pool's Nodes of a hyperv version (by the host pool's selector, not the Hyper-V label: the unlabelled ones are the finding). */
export async function hypervPoolFacts(kc: KubeConfig, config: Config, version: WindowsVersion): Promise<HypervPoolFacts> {
  const hostVersion = hypervHostVersion(config, version);
  if (hostVersion === undefined) return { version, hostVersion, hostNodes: [] };
  const core = kc.makeApiClient(CoreV1Api);
  const hostNodes = await core.listNode({ labelSelector: labelSelectorText(poolSelector(config, hostVersion)) }).then(
    (list) => list.items,
    (error: unknown) => {
      if (apiStatus(error) === 403) return { unreadable: "this identity may not list Nodes" };
      throw error;
    },
  );
  return { version, hostVersion, hostNodes };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** How long an unschedulable probe pod is given before it counts as unschedulable (a scale-up or a Node turning Ready). */
const unschedulableGraceMs = 10_000;

export async function runProbe(kc: KubeConfig, config: Config, pool: ProbePool, url: string, timeoutSeconds: number, signal: AbortSignal): Promise<ProbeFacts> {
  const batch = kc.makeApiClient(BatchV1Api);
  const core = kc.makeApiClient(CoreV1Api);
  const namespace = config.kubernetes.namespace;
  const name = `dockhand-doctor-${pool.kind === "windows" ? pool.version : "buildkit"}-${randomBytes(3).toString("hex")}`;
  const started = Date.now();
  await batch.createNamespacedJob({ namespace, body: probeJob(pool, config, name, url, timeoutSeconds + 30) });
  try {
    let pod: V1Pod | undefined;
    let unschedulableSince: number | undefined;
    let timedOut = false;
    for (;;) {
      const pods = await core.listNamespacedPod({ namespace, labelSelector: `batch.kubernetes.io/job-name=${name}` });
      pod = pods.items[0];
      const statuses = pod?.status?.containerStatuses ?? [];
      const containers = pod?.spec?.containers.length ?? 1;
      if (statuses.length === containers && statuses.every((status) => status.state?.terminated !== undefined)) break;
      if (pod?.status?.phase === "Succeeded" || pod?.status?.phase === "Failed") break;
      if (statuses.some((status) => /ErrImagePull|ImagePullBackOff|InvalidImageName/.test(status.state?.waiting?.reason ?? ""))) break;
      const unschedulable = pod?.status?.conditions?.some((c) => c.type === "PodScheduled" && c.status === "False");
      unschedulableSince = unschedulable ? (unschedulableSince ?? Date.now()) : undefined;
      if (unschedulableSince !== undefined && Date.now() - unschedulableSince > unschedulableGraceMs) break;
      if (Date.now() - started > timeoutSeconds * 1000 || signal.aborted) {
        timedOut = true;
        break;
      }
      await sleep(1000);
    }
    const logs: Record<string, string> = {};
    for (const status of pod?.status?.containerStatuses ?? []) {
      if (status.state?.terminated === undefined || pod?.metadata?.name === undefined) continue;
      logs[status.name] = await core.readNamespacedPodLog({ namespace, name: pod.metadata.name, container: status.name, tailLines: 50 }).catch((e: unknown) => `(log unreadable: ${String(e)})`);
    }
    return { pool, url, pod, logs, timedOut, seconds: Math.round((Date.now() - started) / 1000) };
  } finally {
    // Background: the garbage collector deletes the pod with the Job.
    await batch.deleteNamespacedJob({ namespace, name, propagationPolicy: "Background" }).catch(() => undefined);
  }
}
