// When a node's engine pod (the dockerd DaemonSets', or buildkitd-windows's)
// may take builds. Shared by the admission, which sends builds only there,
// and the doctor, which says when a node would get none.

import type { V1Pod } from "@kubernetes/client-node";

/** The engine containers of those pods (deploy/base/dockerd-daemonsets.yaml, deploy/components/buildkitd-windows-*). */
export const engineContainerNames: readonly string[] = ["dockerd", "buildkitd"];

/** The dockerd pods' disk keeper beside the engine (deploy/images/dockerd-hostprocess/node-gc). */
export const nodeGcContainerName = "node-gc";

/**
 * Ready by its engine container alone: the dockerd pods also run node-gc,
 * which keeps the node's disk, and a node-gc that crash-loops (a bad flag)
 * must not take the pool's builds away with it; the doctor reports it on its
 * own row. A pod without a container of those names (renamed in an overlay)
 * falls back to the pod's Ready condition.
 */
export function engineReady(pod: V1Pod): boolean {
  if (pod.status?.phase !== "Running") return false;
  const engines = (pod.status.containerStatuses ?? []).filter((status) => engineContainerNames.includes(status.name));
  if (engines.length > 0) return engines.every((status) => status.ready);
  return pod.status.conditions?.some((condition) => condition.type === "Ready" && condition.status === "True") ?? false;
}
