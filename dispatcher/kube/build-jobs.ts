import {
  BatchV1Api,
  CoreV1Api,
  type KubeConfig,
  PatchStrategy,
  setHeaderOptions,
  type V1Job,
  type V1OwnerReference,
  type V1Pod,
} from "@kubernetes/client-node";
import { annotationKeys, labelKeys, managedByValue, reportFinalizer } from "../plan/names.js";
import { isAlreadyExists, isNotFound } from "./api-errors.js";
import { IdempotencyConflict } from "../executor.js";

const mergePatch = setHeaderOptions("Content-Type", PatchStrategy.MergePatch);

/**
 * The only place that reads and writes build Jobs and their pods. Each method
 * is one step the API or the reconciler needs; none keeps state.
 */
export class BuildJobs {
  private readonly batch: BatchV1Api;
  private readonly core: CoreV1Api;

  constructor(kc: KubeConfig, readonly namespace: string) {
    this.batch = kc.makeApiClient(BatchV1Api);
    this.core = kc.makeApiClient(CoreV1Api);
  }

  /**
   * Stores every Job of a build. A Job that already exists (the same request
   * sent again, or concurrently) is read back instead of created, so a build
   * is created at most once whatever the number of retries; one created for a
   * different request is an IdempotencyConflict.
   */
  async create(jobs: V1Job[]): Promise<{ jobs: V1Job[]; created: boolean }> {
    const stored: V1Job[] = [];
    let created = false;
    for (const job of jobs) {
      const body: V1Job = {
        ...job,
        metadata: { ...job.metadata, finalizers: [...(job.metadata?.finalizers ?? []), reportFinalizer] },
      };
      try {
        stored.push(await this.batch.createNamespacedJob({ namespace: this.namespace, body }));
        created = true;
      } catch (err) {
        if (!isAlreadyExists(err)) throw err;
        const name = job.metadata!.name!;
        const existing = await this.batch.readNamespacedJob({ namespace: this.namespace, name });
        const want = job.metadata?.annotations?.[annotationKeys.requestHash];
        if (existing.metadata?.annotations?.[annotationKeys.requestHash] !== want) throw new IdempotencyConflict(name);
        stored.push(existing);
      }
    }
    return { jobs: stored, created };
  }

  /**
   * Keeps a per-build GitHub token in a Secret owned by the build's Jobs: it
   * never appears in a Job spec, and the garbage collector deletes it with
   * the last Job.
   */
  async storeGitHubToken(name: string, jobs: V1Job[], token: string): Promise<void> {
    const ownerReferences = ownersOf(jobs);
    try {
      await this.core.createNamespacedSecret({
        namespace: this.namespace,
        body: {
          metadata: { name, labels: { [labelKeys.managedBy]: managedByValue }, ownerReferences },
          type: "Opaque",
          stringData: { token },
        },
      });
    } catch (err) {
      if (!isAlreadyExists(err)) throw err;
    }
  }

  /**
   * Stores a build's BuildKit secrets, one key per id, in a Secret owned by
   * its Jobs, so the garbage collector deletes it with the last of them; the
   * Jobs' spec only names it. Created after the Jobs (an owner needs their
   * uids) with `create` alone, the one write on Secrets the dispatcher's Role
   * grants: a build pod that starts first waits, as the kubelet waits for any
   * Secret volume, until it exists. A retried request finds it (AlreadyExists).
   */
  async storeBuildSecrets(name: string, buildId: string, jobs: V1Job[], secrets: Readonly<Record<string, string>>): Promise<void> {
    try {
      await this.core.createNamespacedSecret({
        namespace: this.namespace,
        body: {
          metadata: { name, labels: { [labelKeys.managedBy]: managedByValue, [labelKeys.buildId]: buildId }, ownerReferences: ownersOf(jobs) },
          type: "Opaque",
          stringData: { ...secrets },
        },
      });
    } catch (err) {
      if (!isAlreadyExists(err)) throw err;
    }
  }

  async readGitHubToken(name: string): Promise<string | undefined> {
    try {
      const secret = await this.core.readNamespacedSecret({ namespace: this.namespace, name });
      const data = secret.data?.token;
      return data ? Buffer.from(data, "base64").toString("utf8") : undefined;
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  }

  async jobsOf(buildId: string): Promise<V1Job[]> {
    const list = await this.batch.listNamespacedJob({ namespace: this.namespace, labelSelector: `${labelKeys.buildId}=${buildId}` });
    return list.items;
  }

  async podsOf(buildId: string): Promise<V1Pod[]> {
    const list = await this.core.listNamespacedPod({ namespace: this.namespace, labelSelector: `${labelKeys.buildId}=${buildId}` });
    return list.items;
  }

  /** Jobs of one repository's builds for one commit (webhooks cancel by these). */
  async jobsOfCommit(repositoryHash: string, sha?: string): Promise<V1Job[]> {
    const selector = [`${labelKeys.repositoryHash}=${repositoryHash}`, ...(sha ? [`${labelKeys.sha}=${sha}`] : [])].join(",");
    const list = await this.batch.listNamespacedJob({ namespace: this.namespace, labelSelector: selector });
    return list.items;
  }

  /** Jobs carrying every one of these labels (webhooks cancel by pull request, run or commit). */
  async jobsLabelled(labels: Readonly<Record<string, string>>): Promise<V1Job[]> {
    const selector = Object.entries({ [labelKeys.managedBy]: managedByValue, ...labels })
      .map(([key, value]) => `${key}=${value}`)
      .join(",");
    const list = await this.batch.listNamespacedJob({ namespace: this.namespace, labelSelector: selector });
    return list.items;
  }

  /**
   * How many of a repository's Jobs are still running or waiting to (policy
   * maxConcurrentBuilds). Read from the API server, not the informer cache,
   * so a Job created a moment ago counts.
   */
  async activeJobsOf(repositoryHash: string): Promise<number> {
    const jobs = await this.jobsLabelled({ [labelKeys.repositoryHash]: repositoryHash });
    return jobs.filter((job) => !isEnded(job)).length;
  }

  /**
   * Cancels a build: marks each Job with the reason and suspends it, in one
   * patch, so the Job controller deletes its pods (and their processes) at
   * once. The Job itself stays, readable through the API for as long as a
   * finished one (the reconciler deletes it ttlSecondsAfterFinished after
   * the cancellation). Jobs that already ended are left as they are.
   */
  async cancel(buildId: string, reason: string, now = new Date()): Promise<V1Job[]> {
    const jobs = await this.jobsOf(buildId);
    const cancelled: V1Job[] = [];
    for (const job of jobs) {
      if (isEnded(job)) continue;
      const name = job.metadata!.name!;
      try {
        await this.batch.patchNamespacedJob(
          {
            namespace: this.namespace,
            name,
            body: { metadata: { annotations: { [annotationKeys.cancelled]: reason, [annotationKeys.cancelledAt]: now.toISOString() } }, spec: { suspend: true } },
          },
          mergePatch,
        );
        cancelled.push(job);
      } catch (err) {
        if (!isNotFound(err)) throw err;
      }
    }
    return cancelled;
  }

  /** Deletes a Job and its pods now (an unschedulable build's cleanup). */
  async delete(name: string): Promise<void> {
    try {
      await this.batch.deleteNamespacedJob({ namespace: this.namespace, name, propagationPolicy: "Foreground" });
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
  }

  /**
   * Merge-patches annotations with the Job's resourceVersion as a
   * precondition, so two dispatchers (or a stale cache) cannot both record a
   * report: the loser gets 409 and re-reads.
   */
  async patchAnnotations(name: string, annotations: Record<string, string | null>, resourceVersion?: string): Promise<V1Job> {
    const metadata: Record<string, unknown> = { annotations };
    if (resourceVersion) metadata.resourceVersion = resourceVersion;
    return this.batch.patchNamespacedJob({ namespace: this.namespace, name, body: { metadata } }, mergePatch);
  }

  /**
   * Starts a queued (suspended) Job on one node: unsuspends it and pins its
   * pod there with node affinity, in one patch guarded by the Job's
   * resourceVersion. A suspended Job that never ran may change its pod's
   * scheduling directives (Kubernetes' mutable scheduling directives for
   * suspended Jobs, as Kueue uses).
   */
  async admit(job: V1Job, node: string): Promise<V1Job> {
    const pinned = {
      nodeAffinity: {
        requiredDuringSchedulingIgnoredDuringExecution: {
          // metadata.name, not the hostname label: on some clouds they differ.
          nodeSelectorTerms: [{ matchFields: [{ key: "metadata.name", operator: "In", values: [node] }] }],
        },
      },
    };
    return this.batch.patchNamespacedJob(
      {
        namespace: this.namespace,
        name: job.metadata!.name!,
        body: {
          metadata: { annotations: { [annotationKeys.admittedNode]: node, [annotationKeys.queued]: null }, resourceVersion: job.metadata!.resourceVersion },
          spec: { suspend: false, template: { spec: { affinity: pinned } } },
        },
      },
      mergePatch,
    );
  }

  /** Lets a finished or deleted Job go once its final state is reported. */
  async releaseFinalizer(job: V1Job): Promise<void> {
    const finalizers = job.metadata?.finalizers ?? [];
    if (!finalizers.includes(reportFinalizer)) return;
    try {
      await this.batch.patchNamespacedJob(
        {
          namespace: this.namespace,
          name: job.metadata!.name!,
          body: { metadata: { finalizers: finalizers.filter((f) => f !== reportFinalizer), resourceVersion: job.metadata!.resourceVersion } },
        },
        mergePatch,
      );
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
  }

  async readLog(pod: string, container: string, tailLines?: number): Promise<string> {
    return this.core.readNamespacedPodLog({ namespace: this.namespace, name: pod, container, tailLines });
  }
}

function ownersOf(jobs: V1Job[]): V1OwnerReference[] {
  return jobs.map((job) => ({ apiVersion: "batch/v1", kind: "Job", name: job.metadata!.name!, uid: job.metadata!.uid! }));
}

/** Finished, cancelled or being deleted: the Job runs nothing more and holds no build slot. */
export function isEnded(job: V1Job): boolean {
  return isFinished(job) || job.metadata?.annotations?.[annotationKeys.cancelled] !== undefined || job.metadata?.deletionTimestamp !== undefined;
}

export function isFinished(job: V1Job): boolean {
  return (job.status?.conditions ?? []).some((c) => (c.type === "Complete" || c.type === "Failed") && c.status === "True");
}
