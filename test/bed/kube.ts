import {
  BatchV1Api,
  CoreV1Api,
  KubeConfig,
  RbacAuthorizationV1Api,
  Watch,
  type V1Job,
  type V1Pod,
} from "@kubernetes/client-node";
import { randomBytes } from "node:crypto";

export interface KubeClients {
  kc: KubeConfig;
  core: CoreV1Api;
  batch: BatchV1Api;
  rbac: RbacAuthorizationV1Api;
}

export function kubeClients(kubeconfigPath: string): KubeClients {
  const kc = new KubeConfig();
  kc.loadFromFile(kubeconfigPath);
  return {
    kc,
    core: kc.makeApiClient(CoreV1Api),
    batch: kc.makeApiClient(BatchV1Api),
    rbac: kc.makeApiClient(RbacAuthorizationV1Api),
  };
}

/** A fresh namespace per test file keeps runs independent on one shared bed. */
export async function freshNamespace(core: CoreV1Api, prefix: string): Promise<string> {
  const name = `${prefix}-${randomBytes(3).toString("hex")}`;
  await core.createNamespace({ body: { metadata: { name } } });
  return name;
}

/**
 * Watches `path` (a list URL such as /apis/batch/v1/namespaces/x/jobs) until
 * `matches` returns a value for some object, or rejects after `timeoutMs`
 * with the last object seen, which is what a failing test needs to show.
 */
export async function watchUntil<T, R>(
  kc: KubeConfig,
  path: string,
  query: Record<string, string>,
  matches: (obj: T) => R | undefined,
  timeoutMs: number,
): Promise<R> {
  let last: T | undefined;
  let abort: AbortController | undefined;
  try {
    return await new Promise<R>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`timed out after ${timeoutMs} ms watching ${path}; last object: ${JSON.stringify(last)?.slice(0, 4000)}`)),
        timeoutMs,
      );
      const onEvent = (_phase: string, obj: T) => {
        last = obj;
        const result = matches(obj);
        if (result !== undefined) {
          clearTimeout(timer);
          resolve(result);
        }
      };
      new Watch(kc)
        .watch(path, query, onEvent, (err) => {
          if (err && err.name !== "AbortError") {
            clearTimeout(timer);
            reject(err);
          }
        })
        .then((a) => (abort = a), reject);
    });
  } finally {
    abort?.abort();
  }
}

export type JobOutcome = "Complete" | "Failed";

export function jobOutcome(job: V1Job): JobOutcome | undefined {
  for (const c of job.status?.conditions ?? []) {
    if ((c.type === "Complete" || c.type === "Failed") && c.status === "True") return c.type;
  }
  return undefined;
}

export async function waitForJob(k: KubeClients, namespace: string, name: string, timeoutMs = 180_000): Promise<JobOutcome> {
  return watchUntil<V1Job, JobOutcome>(
    k.kc,
    `/apis/batch/v1/namespaces/${namespace}/jobs`,
    { fieldSelector: `metadata.name=${name}` },
    jobOutcome,
    timeoutMs,
  );
}

export async function podsOfJob(k: KubeClients, namespace: string, jobName: string): Promise<V1Pod[]> {
  const list = await k.core.listNamespacedPod({ namespace, labelSelector: `batch.kubernetes.io/job-name=${jobName}` });
  return list.items;
}
