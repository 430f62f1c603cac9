// Pure: does each configured Windows version have a pool that can take
// builds? Nodes matching the pool's selector, Ready, every taint tolerated by
// the pool's tolerations (as the scheduler decides it), and a Ready dockerd
// pod on each (and a Ready buildkitd pod, where BuildKit runs there too).

import type { V1Node, V1Pod, V1Taint, V1Toleration } from "@kubernetes/client-node";
import type { Config } from "../config/schema.js";
import { windowsBuildLabel, windowsBuilds, type WindowsVersion } from "../protocol/platforms.js";
import { dockerdPodLabels } from "../plan/names.js";
import { engineContainerNames, engineReady, nodeGcContainerName as nodeGcContainer } from "../plan/engine-pods.js";
import { type CheckResult, fail, ok, skip } from "./check.js";

/** The node selector a build Job of this version carries (plan/docker-job.ts adds the same two labels). */
export function poolSelector(config: Config, version: WindowsVersion): Record<string, string> {
  const pool = config.dockerPool.pools[version];
  return { ...pool?.nodeSelector, "kubernetes.io/os": "windows", [windowsBuildLabel]: windowsBuilds[version] };
}

export function labelSelectorText(selector: Record<string, string>): string {
  return Object.entries(selector)
    .map(([key, value]) => `${key}=${value}`)
    .join(",");
}

/**
 * k8s.io/api/core/v1 Toleration.ToleratesTaint (toleration.go): an empty
 * effect matches every effect, an empty key with Exists every taint; Equal
 * (the default operator) compares values.
 */
export function toleratesTaint(toleration: V1Toleration, taint: V1Taint): boolean {
  if (toleration.effect && toleration.effect !== taint.effect) return false;
  if (toleration.key && toleration.key !== taint.key) return false;
  switch (toleration.operator ?? "Equal") {
    case "Exists":
      return true;
    case "Equal":
      return (toleration.value ?? "") === (taint.value ?? "");
    default:
      return false;
  }
}

/**
 * The taints that keep a pod off the node: the scheduler's TaintToleration
 * filter looks at NoSchedule and NoExecute only (PreferNoSchedule is a score,
 * not a filter; pkg/scheduler/framework/plugins/tainttoleration).
 */
export function untoleratedTaints(taints: readonly V1Taint[], tolerations: readonly V1Toleration[]): V1Taint[] {
  return taints.filter(
    (taint) => (taint.effect === "NoSchedule" || taint.effect === "NoExecute") && !tolerations.some((toleration) => toleratesTaint(toleration, taint)),
  );
}

const isReady = (conditions: ReadonlyArray<{ type: string; status: string }> | undefined) =>
  conditions?.some((condition) => condition.type === "Ready" && condition.status === "True") ?? false;

export const taintText = (taint: V1Taint) => `${taint.key}${taint.value ? `=${taint.value}` : ""}:${taint.effect}`;

export interface PoolFacts {
  readonly version: WindowsVersion;
  readonly selector: Record<string, string>;
  readonly tolerations: readonly V1Toleration[];
  /** The nodes matching the selector, or why they could not be read. */
  readonly nodes: readonly V1Node[] | { readonly unreadable: string };
  readonly daemonNamespace: string;
  /** This version's dockerd pods (labels app.kubernetes.io/name=dockerd, dockhand.dev/windows-version), or why they could not be read. */
  readonly dockerdPods: readonly V1Pod[] | { readonly unreadable: string };
  /** With buildkitWindows.versions listing the version: its buildkitd-windows pods, the same way. */
  readonly buildkitdPods?: readonly V1Pod[] | { readonly unreadable: string };
}

export function evaluatePool(facts: PoolFacts): CheckResult[] {
  const { version } = facts;
  const key = `dockerPool.pools.${version}`;
  const selector = labelSelectorText(facts.selector);
  const daemonSet = `dockerd-${version}`;
  const rows: CheckResult[] = [];

  let readyNodes: string[] | undefined;
  if ("unreadable" in facts.nodes) {
    rows.push(
      skip(
        `pool ${version}: nodes`,
        `not checked: ${facts.nodes.unreadable}`,
        "the dispatcher's ServiceAccount may not read Nodes, by design; run the doctor from a checkout with a kubeconfig that may (kubectl auth can-i list nodes) for this row",
      ),
    );
  } else if (facts.nodes.length === 0) {
    rows.push(
      fail(
        `pool ${version}: nodes`,
        `no node has the labels ${selector}`,
        `add a ${version} Windows node pool, or set ${key}.nodeSelector to the labels its nodes carry (kubectl get nodes -l kubernetes.io/os=windows --show-labels); remove ${key} if this cluster has no ${version} nodes`,
      ),
    );
  } else {
    const notReady = facts.nodes.filter((node) => !isReady(node.status?.conditions));
    const blocked = facts.nodes
      .map((node) => ({ node: node.metadata?.name ?? "?", taints: untoleratedTaints(node.spec?.taints ?? [], facts.tolerations) }))
      .filter((entry) => entry.taints.length > 0);
    readyNodes = facts.nodes.filter((node) => isReady(node.status?.conditions)).map((node) => node.metadata?.name ?? "?");
    const pressure = facts.nodes.filter((node) => node.status?.conditions?.some((c) => c.type === "DiskPressure" && c.status === "True")).map((n) => n.metadata?.name);
    // The kubelet's DiskPressure is about its own filesystems; dockerd's data
    // root (C:\ProgramData\docker) is outside what the Kubernetes API or the
    // docker CLI report as free space, so it is said to be unchecked.
    const disk = `disk: DiskPressure ${pressure.length === 0 ? "on none" : `on ${pressure.join(", ")}`}; free space on dockerd's data root not checked (nothing reports it)`;
    const names = facts.nodes.map((node) => node.metadata?.name ?? "?").join(", ");
    if (blocked.length > 0) {
      const taints = [...new Map(blocked.flatMap((b) => b.taints).map((t) => [taintText(t), t])).values()];
      rows.push(
        fail(
          `pool ${version}: nodes`,
          `builds cannot be scheduled: ${blocked.map((b) => `${b.node} has ${b.taints.map(taintText).join(", ")}`).join("; ")}, which ${key}.tolerations does not tolerate`,
          `add to ${key}.tolerations (and to the ${daemonSet} DaemonSet's): ${taints.map((t) => JSON.stringify({ key: t.key, operator: t.value ? "Equal" : "Exists", ...(t.value ? { value: t.value } : {}), effect: t.effect })).join(", ")}`,
        ),
      );
    } else if (notReady.length > 0 && readyNodes.length === 0) {
      rows.push(fail(`pool ${version}: nodes`, `${names}: none Ready`, `kubectl describe node ${notReady[0]!.metadata?.name}: see its conditions; builds of ${version} wait until a node is Ready`));
    } else {
      const unready = notReady.length > 0 ? ` (not Ready: ${notReady.map((n) => n.metadata?.name).join(", ")})` : "";
      rows.push({
        ...(pressure.length > 0
          ? fail(`pool ${version}: nodes`, `${readyNodes.length} Ready${unready}; ${disk}`, `free disk on ${pressure.join(", ")}: lower --keep-storage of the node-gc container in the dockerd DaemonSet (its log says what each pass removed and what it could not)`)
          : ok(`pool ${version}: nodes`, `${readyNodes.length} of ${facts.nodes.length} Ready (${names})${unready}, taints tolerated; ${disk}`)),
      });
    }
  }

  rows.push(evaluateEnginePods(facts, readyNodes, "dockerd", facts.dockerdPods));
  rows.push(evaluateNodeGc(facts));
  // BuildKit on the Windows nodes (buildkitWindows.versions): its pods, checked as dockerd's.
  if (facts.buildkitdPods !== undefined) rows.push(evaluateEnginePods(facts, readyNodes, "buildkitd", facts.buildkitdPods));
  return rows;
}

const engines = {
  dockerd: {
    labelValue: dockerdPodLabels.nameValue,
    apply: (version: string, namespace: string) => `apply deploy/base/dockerd-daemonsets.yaml (DaemonSet dockerd-${version}) in ${namespace}, or set dockerPool.daemonNamespace to where it runs`,
    probe: "the readiness probe asks dockerd for its version over \\\\.\\pipe\\docker_engine",
  },
  buildkitd: {
    labelValue: dockerdPodLabels.buildkitdNameValue,
    apply: (version: string, namespace: string) =>
      `list deploy/components/buildkitd-windows-${version} in your overlay (DaemonSet buildkitd-${version}, in ${namespace}, dockerPool.daemonNamespace), or remove ${version} from buildkitWindows.versions`,
    probe: "the readiness probe runs buildctl debug workers over \\\\.\\pipe\\buildkitd",
  },
} as const;

/** One Ready engine pod per Ready node (or, without node access, every pod there is): builds are admitted only to those. */
function evaluateEnginePods(facts: PoolFacts, readyNodes: readonly string[] | undefined, engine: keyof typeof engines, found: PoolFacts["dockerdPods"]): CheckResult {
  const { version } = facts;
  const key = `dockerPool.pools.${version}`;
  const daemonSet = `${engine}-${version}`;
  const name = `pool ${version}: ${engine}`;
  if ("unreadable" in found) {
    // The dispatcher reads these pods itself to admit builds: the doctor's identity lacking it is a finding, not a skip.
    return fail(
      name,
      `${found.unreadable}, where the ${engine} pods are (dockerPool.daemonNamespace)`,
      `allow the dispatcher's ServiceAccount get, list and watch on pods in ${facts.daemonNamespace} (a Role and RoleBinding there; docs/deploy.md, "Windows node pools")`,
    );
  }
  const pods = found.filter((pod) => pod.metadata?.deletionTimestamp === undefined);
  const podOn = new Map(pods.map((pod) => [pod.spec?.nodeName ?? "", pod]));
  const wanted = readyNodes ?? pods.map((pod) => pod.spec?.nodeName ?? "(unscheduled)");
  const missing = wanted.filter((node) => !podOn.has(node));
  const unreadyPods = wanted.map((node) => podOn.get(node)).filter((pod): pod is V1Pod => pod !== undefined && !engineReady(pod));
  const where = `namespace ${facts.daemonNamespace}, labels ${dockerdPodLabels.name}=${engines[engine].labelValue},${dockerdPodLabels.windowsVersion}=${version}`;
  // None at all: the DaemonSet itself is missing (or elsewhere), not its placement.
  if (wanted.length === 0 || pods.length === 0) {
    return fail(name, `no ${engine} pod${wanted.length === 0 ? "" : ` on ${wanted.join(", ")}`} (${where})`, engines[engine].apply(version, facts.daemonNamespace));
  }
  if (missing.length > 0 || unreadyPods.length > 0) {
    const problems = [
      ...missing.map((node) => `no ${engine} pod on ${node}`),
      ...unreadyPods.map((pod) => `${pod.metadata?.name} on ${pod.spec?.nodeName} is not Ready (${podWhy(pod)})`),
    ];
    return fail(
      name,
      `${problems.join("; ")} (${where}); builds go only to nodes with a Ready ${engine}`,
      missing.length > 0
        ? `the ${daemonSet} DaemonSet's nodeSelector and tolerations must be ${key}'s: kubectl -n ${facts.daemonNamespace} describe ds ${daemonSet}`
        : `kubectl -n ${facts.daemonNamespace} describe pod ${unreadyPods[0]!.metadata?.name} and its logs: ${engines[engine].probe}`,
    );
  }
  return ok(name, `Ready on ${wanted.join(", ")} (${facts.daemonNamespace})`);
}

/**
 * The node-gc container beside each dockerd: without it running, nothing
 * removes what builds leave in the node's dockerd, and its disk fills. It does
 * not gate builds (engineReady reads the dockerd container alone), so only
 * this row shows it broken.
 */
function evaluateNodeGc(facts: PoolFacts): CheckResult {
  const name = `pool ${facts.version}: ${nodeGcContainer}`;
  if ("unreadable" in facts.dockerdPods) return skip(name, `not checked: ${facts.dockerdPods.unreadable}`, "see the dockerd row");
  const pods = facts.dockerdPods.filter((pod) => pod.metadata?.deletionTimestamp === undefined);
  if (pods.length === 0) return skip(name, "not checked: no dockerd pod", "see the dockerd row");
  const where = (pod: V1Pod) => `${pod.metadata?.name} on ${pod.spec?.nodeName ?? "(unscheduled)"}`;
  const without = pods.filter((pod) => !pod.spec?.containers?.some((container) => container.name === nodeGcContainer));
  if (without.length > 0) {
    return fail(
      name,
      `no ${nodeGcContainer} container in ${without.map(where).join(", ")}: nothing removes what builds leave in dockerd, so the node's disk fills`,
      `run deploy/base/dockerd-daemonsets.yaml's node-gc container beside dockerd (kubectl -n ${facts.daemonNamespace} get ds dockerd-${facts.version} -o yaml shows what runs now)`,
    );
  }
  const broken = pods.flatMap((pod) => {
    const status = pod.status?.containerStatuses?.find((s) => s.name === nodeGcContainer);
    if (status?.state?.running) return [];
    const why = status?.state?.waiting?.reason ?? (status?.state?.terminated ? `exited ${status.state.terminated.exitCode}` : "not started");
    return [{ pod, text: `${where(pod)}: ${why}${status?.restartCount ? `, ${status.restartCount} restarts` : ""}` }];
  });
  if (broken.length > 0) {
    return fail(
      name,
      `${broken.map((b) => b.text).join("; ")}; builds still go there, but nothing frees the node's disk`,
      `kubectl -n ${facts.daemonNamespace} logs ${broken[0]!.pod.metadata?.name} -c ${nodeGcContainer} --previous: it names the flag it refused or the error it met`,
    );
  }
  return ok(name, `running beside dockerd on ${pods.map((pod) => pod.spec?.nodeName ?? "?").join(", ")}`);
}

function podWhy(pod: V1Pod): string {
  // The engine's own reason first: node-gc beside dockerd may be waiting too.
  const statuses = pod.status?.containerStatuses ?? [];
  const waiting = statuses.find((status) => engineContainerNames.includes(status.name) && status.state?.waiting) ?? statuses.find((status) => status.state?.waiting);
  if (waiting?.state?.waiting) return `${waiting.state.waiting.reason ?? "waiting"}${waiting.state.waiting.message ? `: ${waiting.state.waiting.message.slice(0, 160)}` : ""}`;
  const condition = pod.status?.conditions?.find((c) => c.type === "Ready");
  return `phase ${pod.status?.phase ?? "?"}${condition?.reason ? `, ${condition.reason}` : ""}`;
}
