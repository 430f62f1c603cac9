import {
  BatchV1Api,
  CoreV1Api,
  type KubeConfig,
  ListWatch,
  type V1Job,
  type V1Pod,
  Watch,
} from "@kubernetes/client-node";
import { dockerdPodLabels, labelKeys, managedByValue } from "../plan/names.js";

export interface BuildInformers {
  jobs: ListWatch<V1Job>;
  pods: ListWatch<V1Pod>;
  /** The dockerd DaemonSets' pods (dockerPool.daemonNamespace): which nodes have a Ready engine. */
  dockerdPods: ListWatch<V1Pod>;
  /** Resolves once both caches hold a full list. */
  start(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * One list+watch each for dockhand's Jobs and their pods in the build
 * namespace, selected by label. ListWatch resumes from the last
 * resourceVersion and relists after 410 Gone; on any other error it stops, so
 * we restart it after a delay that grows to 30 s.
 */
export function buildInformers(
  kc: KubeConfig,
  namespace: string,
  onError: (what: string, err: unknown) => void,
  dockerdNamespace: string = namespace,
): BuildInformers {
  const selector = `${labelKeys.managedBy}=${managedByValue}`;
  const batch = kc.makeApiClient(BatchV1Api);
  const core = kc.makeApiClient(CoreV1Api);
  const watch = new Watch(kc);
  const jobs = new ListWatch<V1Job>(
    `/apis/batch/v1/namespaces/${namespace}/jobs`,
    watch,
    () => batch.listNamespacedJob({ namespace, labelSelector: selector }),
    false,
    selector,
  );
  const pods = new ListWatch<V1Pod>(
    `/api/v1/namespaces/${namespace}/pods`,
    watch,
    () => core.listNamespacedPod({ namespace, labelSelector: selector }),
    false,
    selector,
  );
  const dockerdSelector = `${dockerdPodLabels.name}=${dockerdPodLabels.nameValue}`;
  const dockerdPods = new ListWatch<V1Pod>(
    `/api/v1/namespaces/${dockerdNamespace}/pods`,
    watch,
    () => core.listNamespacedPod({ namespace: dockerdNamespace, labelSelector: dockerdSelector }),
    false,
    dockerdSelector,
  );
  let stopped = false;
  for (const [what, informer] of [["jobs", jobs], ["pods", pods], ["dockerd pods", dockerdPods]] as const) {
    let delayMs = 500;
    informer.on("connect", () => (delayMs = 500));
    informer.on("error", (err) => {
      if (stopped) return; // our own stop() aborts the watch
      onError(what, err);
      setTimeout(() => {
        if (!stopped) informer.start().catch((e) => onError(what, e));
      }, delayMs).unref();
      delayMs = Math.min(delayMs * 2, 30_000);
    });
  }
  return {
    jobs,
    pods,
    dockerdPods,
    async start() {
      stopped = false;
      await Promise.all([jobs.start(), pods.start(), dockerdPods.start()]);
    },
    async stop() {
      stopped = true;
      await Promise.all([jobs.stop(), pods.stop(), dockerdPods.stop()]);
    },
  };
}
