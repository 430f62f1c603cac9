import {
  BatchV1Api,
  CoreV1Api,
  type KubeConfig,
  type KubernetesObject,
  ListWatch,
  type V1Container,
  type V1Job,
  type V1ObjectMeta,
  type V1Pod,
  Watch,
} from "@kubernetes/client-node";
import { dockerdPodLabels, labelKeys, managedByValue } from "../plan/names.js";

export interface BuildInformers {
  jobs: ListWatch<V1Job>;
  pods: ListWatch<V1Pod>;
  /** The dockerd and buildkitd-windows DaemonSets' pods (dockerPool.daemonNamespace): which nodes have a Ready engine. */
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
  const jobs = new ListWatch<V1Job>(
    `/apis/batch/v1/namespaces/${namespace}/jobs`,
    new TrimmingWatch(kc, trimJob),
    async () => trimList(await batch.listNamespacedJob({ namespace, labelSelector: selector }), trimJob),
    false,
    selector,
  );
  const pods = new ListWatch<V1Pod>(
    `/api/v1/namespaces/${namespace}/pods`,
    new TrimmingWatch(kc, trimPod),
    async () => trimList(await core.listNamespacedPod({ namespace, labelSelector: selector }), trimPod),
    false,
    selector,
  );
  // Both Windows-pool engines' pods, in one watch: dockerd and buildkitd-windows.
  const dockerdSelector = `${dockerdPodLabels.name} in (${dockerdPodLabels.nameValue},${dockerdPodLabels.buildkitdNameValue})`;
  const dockerdPods = new ListWatch<V1Pod>(
    `/api/v1/namespaces/${dockerdNamespace}/pods`,
    new TrimmingWatch(kc, trimPod),
    async () => trimList(await core.listNamespacedPod({ namespace: dockerdNamespace, labelSelector: dockerdSelector }), trimPod),
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

// The caches hold every build's Jobs and pods for as long as they exist, and
// most of each object is read by nobody here: managedFields (often half the
// object), and the pod template's and pods' containers beyond their names and
// images (command lines, env, volume mounts, resources). What is kept is what
// the reconciler, the state derivation, the admission, logs and metrics read:
// metadata, status, and these parts of spec. The API's answers to get() and
// every write still see whole objects; only the caches are trimmed.

function trimMetadata(metadata: V1ObjectMeta | undefined): V1ObjectMeta | undefined {
  if (!metadata?.managedFields) return metadata;
  const { managedFields: _unread, ...kept } = metadata;
  return kept;
}

const nameAndImage = (containers: V1Container[] | undefined) => containers?.map(({ name, image }) => ({ name, image }));

/** suspend and ttlSecondsAfterFinished (reconciler), the template's volumes (registry-credentials: which Secret pushes). */
export function trimJob(job: V1Job): V1Job {
  const spec = job.spec;
  const volumes = spec?.template?.spec?.volumes;
  return {
    apiVersion: job.apiVersion,
    kind: job.kind,
    metadata: trimMetadata(job.metadata),
    spec: spec && {
      suspend: spec.suspend,
      ttlSecondsAfterFinished: spec.ttlSecondsAfterFinished,
      template: { spec: { containers: [], ...(volumes ? { volumes } : {}) } },
    },
    status: job.status,
  };
}

/** nodeName, nodeSelector (why unschedulable), each step's name and image (logs, pull errors). */
export function trimPod(pod: V1Pod): V1Pod {
  const spec = pod.spec;
  return {
    apiVersion: pod.apiVersion,
    kind: pod.kind,
    metadata: trimMetadata(pod.metadata),
    spec: spec && {
      nodeName: spec.nodeName,
      nodeSelector: spec.nodeSelector,
      ...(spec.initContainers ? { initContainers: nameAndImage(spec.initContainers) } : {}),
      containers: nameAndImage(spec.containers) ?? [],
    },
    status: pod.status,
  };
}

function trimList<T extends KubernetesObject, L extends { items: T[] }>(list: L, trim: (object: T) => T): L {
  return { ...list, items: list.items.map(trim) };
}

/** A Watch whose events carry trimmed objects (ListWatch caches what it is handed). */
class TrimmingWatch<T extends KubernetesObject> extends Watch {
  constructor(
    kc: KubeConfig,
    private readonly trim: (object: T) => T,
  ) {
    super(kc);
  }

  override watch(
    path: string,
    queryParams: Record<string, string | number | boolean | undefined>,
    callback: (phase: string, apiObj: any, watchObj?: any) => void,
    done: (err: any) => void,
  ): Promise<AbortController> {
    // BOOKMARK and ERROR events carry no object of T's kind: passed as they are.
    return super.watch(path, queryParams, (phase, object, watchObject) => callback(phase, phase === "ADDED" || phase === "MODIFIED" || phase === "DELETED" ? this.trim(object as T) : object, watchObject), done);
  }
}
