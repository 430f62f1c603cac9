// Pure: can a version whose pool is `isolation: hyperv` build? Its builds go
// to the host version's nodes labelled dockhand.dev/hyperv=true
// (plan/windows-host.ts). The label is all the doctor can see: whether the
// node really has the Hyper-V feature (and nested virtualization) nothing in
// the Kubernetes API reports, so that is said, not checked.

import type { V1Node } from "@kubernetes/client-node";
import { hypervNodeLabel } from "../plan/names.js";
import type { WindowsVersion } from "../protocol/platforms.js";
import { type CheckResult, fail, ok, skip } from "./check.js";

export interface HypervPoolFacts {
  readonly version: WindowsVersion;
  /** The pool whose nodes run it; undefined when none is configured (config validation refuses that before the doctor runs). */
  readonly hostVersion: WindowsVersion | undefined;
  /** The host pool's nodes (its own selector, without the Hyper-V label), or why they could not be read. */
  readonly hostNodes: readonly V1Node[] | { readonly unreadable: string };
}

export function evaluateHypervPool(facts: HypervPoolFacts): CheckResult[] {
  const name = `pool ${facts.version} (hyperv): nodes`;
  const key = `dockerPool.pools.${facts.version}`;
  if (facts.hostVersion === undefined) {
    return [fail(name, "no newer pool with isolation process hosts it", `add dockerPool.pools.ltsc2022 (or ltsc2025), or set ${key}.isolation: process`)];
  }
  const host = facts.hostVersion;
  if ("unreadable" in facts.hostNodes) {
    return [skip(name, `not checked: ${facts.hostNodes.unreadable}`, "run the doctor with a kubeconfig that may list Nodes (kubectl auth can-i list nodes) for this row")];
  }
  const nodes = facts.hostNodes.map((node) => ({ name: node.metadata?.name ?? "?", labelled: node.metadata?.labels?.[hypervNodeLabel] === "true" }));
  const labelled = nodes.filter((node) => node.labelled).map((node) => node.name);
  const unlabelled = nodes.filter((node) => !node.labelled).map((node) => node.name);
  const notChecked = "the Hyper-V feature and nested virtualization are not checked (nothing in the Kubernetes API reports them)";
  const howToLabel = `once each has the Hyper-V role and nested virtualization (docs/deploy.md, "Hyper-V isolation"): kubectl label node <name> ${hypervNodeLabel}=true, or better a pool-level label`;
  if (nodes.length === 0) return [fail(name, `the ${host} pool has no nodes to host ${facts.version} builds`, `add ${host} nodes, or give ${facts.version} its own pool with isolation process`)];
  if (labelled.length === 0) {
    return [fail(name, `no ${host} node is labelled ${hypervNodeLabel}=true (${unlabelled.join(", ")}): every ${facts.version} build ends unschedulable`, `label them ${howToLabel}`)];
  }
  if (unlabelled.length > 0) {
    return [
      fail(
        name,
        `${labelled.length} of ${nodes.length} ${host} nodes labelled ${hypervNodeLabel}=true; ${unlabelled.join(", ")} not: the dispatcher admits builds to any ${host} dockerd, and one admitted there stays unschedulable`,
        `label ${unlabelled.join(", ")} too ${howToLabel}; or move the Hyper-V nodes into a pool of their own and select it in ${key}.nodeSelector`,
      ),
    ];
  }
  return [ok(name, `${facts.version} builds run on ${labelled.length} ${host} node${labelled.length === 1 ? "" : "s"} labelled ${hypervNodeLabel}=true (${labelled.join(", ")}); ${notChecked}`)];
}
