// The pods of the docker-cli-<version> DaemonSets (deploy/base/docker-cli-images.yaml),
// which keep each Windows version's docker CLI image on every node of its
// dockerd pool: which nodes hold which CLI image, for the
// dockhand_dockerd_pool_nodes_missing_cli_image gauge. The dispatcher may not
// read Nodes (a Role, never a ClusterRole), so a node holds the image when
// the pod there has run it: its init container ran the image and exited 0,
// and the pod still lives (while it does, the kubelet's image GC counts the
// image as in use).

import { CoreV1Api, type KubeConfig, ListWatch, type V1Pod, Watch } from "@kubernetes/client-node";
import { listsImage } from "../image-names.js";
import { trimPod } from "./informers.js";

export const dockerCliPods = {
  labels: { name: "app.kubernetes.io/name", nameValue: "docker-cli", windowsVersion: "dockhand.dev/windows-version" },
  /** The init container that pulls and runs the CLI image. */
  initContainer: "docker-cli",
} as const;

export const dockerCliPodSelector = `${dockerCliPods.labels.name}=${dockerCliPods.labels.nameValue}`;

export interface DockerCliHolding {
  readonly node: string;
  readonly windowsVersion: string;
  /** The image the pod's init container ran, as its spec names it. */
  readonly image: string;
}

/** The pods that hold their CLI image now: scheduled, not terminating, the init container done with exit 0. */
export function dockerCliHoldings(pods: readonly V1Pod[]): DockerCliHolding[] {
  return pods.flatMap((pod) => {
    const node = pod.spec?.nodeName;
    const windowsVersion = pod.metadata?.labels?.[dockerCliPods.labels.windowsVersion];
    const image = pod.spec?.initContainers?.find((c) => c.name === dockerCliPods.initContainer)?.image;
    const ran = pod.status?.initContainerStatuses?.find((s) => s.name === dockerCliPods.initContainer)?.state?.terminated?.exitCode === 0;
    if (!node || !windowsVersion || !image || !ran || pod.metadata?.deletionTimestamp) return [];
    return [{ node, windowsVersion, image }];
  });
}

/**
 * Per Windows version, the nodes whose docker-cli pod has run the CLI image
 * `images` names for that version (a pod that ran another image, before an
 * image change reached it, counts for nothing).
 */
export function nodesHoldingCliImages(pods: readonly V1Pod[], images: Readonly<Record<string, string | undefined>>): Map<string, Set<string>> {
  const held = new Map<string, Set<string>>();
  for (const holding of dockerCliHoldings(pods)) {
    const wanted = images[holding.windowsVersion];
    if (wanted === undefined || !listsImage([holding.image], wanted)) continue;
    held.set(holding.windowsVersion, (held.get(holding.windowsVersion) ?? new Set()).add(holding.node));
  }
  return held;
}

/**
 * A list+watch of those pods in the dockerd DaemonSets' namespace (the
 * dispatcher's Role already lets it list and watch pods there). Restarted
 * after an error with a delay growing to 30 s, as the build informers are.
 */
export function dockerCliPodInformer(kc: KubeConfig, namespace: string, onError: (err: unknown) => void) {
  const core = kc.makeApiClient(CoreV1Api);
  const informer = new ListWatch<V1Pod>(
    `/api/v1/namespaces/${namespace}/pods`,
    new Watch(kc),
    async () => {
      const list = await core.listNamespacedPod({ namespace, labelSelector: dockerCliPodSelector });
      return { ...list, items: list.items.map(trimPod) };
    },
    false,
    dockerCliPodSelector,
  );
  let stopped = false;
  let delayMs = 500;
  informer.on("connect", () => (delayMs = 500));
  informer.on("error", (err) => {
    if (stopped) return;
    onError(err);
    setTimeout(() => {
      if (!stopped) informer.start().catch(onError);
    }, delayMs).unref();
    delayMs = Math.min(delayMs * 2, 30_000);
  });
  return {
    list: (): readonly V1Pod[] => informer.list(),
    start: async () => {
      stopped = false;
      await informer.start();
    },
    stop: async () => {
      stopped = true;
      await informer.stop();
    },
  };
}
