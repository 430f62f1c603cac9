// Pure: does every Ready node of a version's pool hold that version's docker
// CLI image (dockerPool.images.<version>), so no build pulls it? The answer
// is the Node's status.images, which the kubelet fills from its runtime's
// image list, largest first, cut at nodeStatusMaxImages (50 by default;
// pkg/kubelet/nodestatus/setters.go, pkg/kubelet/apis/config/v1beta1/defaults.go):
// a node listing exactly that many may hold more than it says, so the CLI
// image missing from a full list is "unknown", never a FAIL.

import type { V1Node } from "@kubernetes/client-node";
import type { WindowsVersion } from "../protocol/platforms.js";
import { listsImage } from "../image-names.js";
import { type CheckResult, fail, ok, skip } from "./check.js";

/** The kubelet's default nodeStatusMaxImages. */
export const nodeStatusMaxImages = 50;

export interface CliImageFacts {
  readonly version: WindowsVersion;
  /** dockerPool.images.<version>. */
  readonly image: string;
  /** The pool's nodes (the pool's selector), or why they could not be read. */
  readonly nodes: readonly V1Node[] | { readonly unreadable: string };
  /** Where the dockerd and docker-cli DaemonSets run (dockerPool.daemonNamespace). */
  readonly daemonNamespace: string;
  /** Label selector of this version's docker-cli pods (kube/docker-cli-pods.ts). */
  readonly podSelector: string;
}

const isReady = (node: V1Node) => node.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True") ?? false;

export function evaluateCliImage(facts: CliImageFacts): CheckResult {
  const name = `pool ${facts.version}: docker CLI image`;
  const { image, version, daemonNamespace } = facts;
  const daemonSet = `docker-cli-${version}`;
  if ("unreadable" in facts.nodes) {
    return skip(name, `not checked: ${facts.nodes.unreadable}`, "run the doctor with a kubeconfig that may list Nodes (kubectl auth can-i list nodes) for this row");
  }
  const ready = facts.nodes.filter(isReady);
  if (ready.length === 0) return skip(name, `no Ready node to check for ${image}`);
  const holding: string[] = [];
  const lacking: string[] = [];
  const unknown: string[] = [];
  for (const node of ready) {
    const listed = node.status?.images ?? [];
    const nodeName = node.metadata?.name ?? "?";
    if (listed.some((entry) => listsImage(entry.names ?? [], image))) holding.push(nodeName);
    else if (listed.length >= nodeStatusMaxImages) unknown.push(nodeName);
    else lacking.push(nodeName);
  }
  const unknownText =
    unknown.length > 0
      ? `; unknown on ${unknown.join(", ")}: its status lists ${nodeStatusMaxImages} images, the kubelet's nodeStatusMaxImages, so the CLI image may be among those left out`
      : "";
  const pods = `kubectl -n ${daemonNamespace} get pods -o wide -l ${facts.podSelector}`;
  if (lacking.length > 0) {
    return fail(
      name,
      `${lacking.join(", ")} ${lacking.length === 1 ? "does" : "do"} not hold ${image} (dockerPool.images.${version}): the next build there pulls it first, several GB on Windows${unknownText}`,
      `apply the ${daemonSet} DaemonSet (deploy/base/docker-cli-images.yaml) in ${daemonNamespace} with the same image as dockerPool.images.${version} (one kustomize images: entry sets both; docs/deploy.md), then wait until its pod on each node is Running: ${pods}`,
    );
  }
  if (unknown.length > 0) {
    return skip(
      name,
      `${holding.length > 0 ? `${image} on ${holding.join(", ")}` : `${image} listed on no node`}${unknownText}`,
      `the ${daemonSet} pod on ${unknown.join(", ")} shows whether it ran the image: ${pods}`,
    );
  }
  return ok(name, `${image} on every Ready node (${holding.join(", ")})`);
}
