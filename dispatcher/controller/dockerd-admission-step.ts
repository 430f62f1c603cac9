// Admits queued Windows-pool Jobs (dockerd-admission.ts decides) and records
// why the others wait. Run by the leader's reconciler for each suspended
// dockerd or buildkit-windows Job; the Jobs and the engines' pods are the
// whole state.

import type { V1Job, V1Pod } from "@kubernetes/client-node";
import { type BuildJobs, isEnded, isFinished } from "../kube/build-jobs.js";
import type { BuildInformers } from "../kube/informers.js";
import { annotationKeys, dockerdPodLabels } from "../plan/names.js";
import { engineReady } from "../plan/engine-pods.js";
import { admitDockerdBuilds, type DockerdNode, type QueuedBuild, type RunningBuild } from "./dockerd-admission.js";
import type { FieldLogger } from "../logging.js";
import { builderOf, hostVersionOf } from "./state-from-jobs.js";
import type { Engine } from "./dockerd-admission.js";

export class DockerdAdmissionStep {
  /**
   * Admissions this process made that the informer may not show yet: without
   * them a second queued Job reconciled right after would see the slot still
   * free. The Job stays the durable record; this only covers the cache's lag.
   */
  private readonly admittedNotYetSeen = new Map<string, string>();

  constructor(
    private readonly informers: BuildInformers,
    private readonly jobs: BuildJobs,
    private readonly maxBuildsPerNode: number,
    private readonly log: FieldLogger,
    /** Per Windows version, the nodes holding that pool's docker CLI image (undefined: not watched). */
    private readonly cliImageHeldOn: () => ReadonlyMap<string, ReadonlySet<string>> | undefined = () => undefined,
  ) {}

  /** Whether the Job waits for admission: a Windows-pool Job, suspended, neither cancelled nor finished. */
  static isQueued(job: V1Job): boolean {
    return (
      engineOf(job) !== undefined &&
      job.spec?.suspend === true &&
      job.metadata?.annotations?.[annotationKeys.cancelled] === undefined &&
      !job.metadata?.deletionTimestamp &&
      !isFinished(job)
    );
  }

  /**
   * For a queued Job: admits it to a node, or records why it waits. True when
   * it wrote to the Job (its update event brings the reconciler back).
   */
  async reconcile(job: V1Job): Promise<boolean> {
    const name = job.metadata!.name!;
    if (!DockerdAdmissionStep.isQueued(job) || this.admittedNotYetSeen.has(name)) return false;
    const decision = admitDockerdBuilds(this.view()).get(name);
    if (!decision) return false;
    if (decision.admit) {
      this.admittedNotYetSeen.set(name, decision.node);
      try {
        await this.jobs.admit(job, decision.node);
      } catch (err) {
        this.admittedNotYetSeen.delete(name);
        throw err;
      }
      this.log.info({ job: name, node: decision.node, engine: engineOf(job) }, "admitted to a Windows pool node");
      return true;
    }
    if (job.metadata?.annotations?.[annotationKeys.queued] === decision.reason) return false;
    await this.jobs.patchAnnotations(name, { [annotationKeys.queued]: decision.reason }, job.metadata?.resourceVersion);
    return true;
  }

  /** Jobs still waiting: the reconciler looks at them again when a slot or an engine may have freed up. */
  queuedJobs(): string[] {
    return this.informers.jobs
      .list(this.jobs.namespace)
      .filter((job) => DockerdAdmissionStep.isQueued(job) && !this.admittedNotYetSeen.has(job.metadata!.name!))
      .map((job) => job.metadata!.name!);
  }

  /** Another leader may admit meanwhile: only the Jobs themselves count after a pause. */
  forget(): void {
    this.admittedNotYetSeen.clear();
  }

  private view() {
    const queued: QueuedBuild[] = [];
    const running: RunningBuild[] = [];
    const pods = this.informers.pods.list(this.jobs.namespace);
    for (const job of this.informers.jobs.list(this.jobs.namespace)) {
      const engine = engineOf(job);
      if (engine === undefined || !job.metadata?.name) continue;
      const name = job.metadata.name;
      const seen = job.spec?.suspend === false || job.spec?.suspend === undefined;
      if (seen) this.admittedNotYetSeen.delete(name);
      const admittedTo = this.admittedNotYetSeen.get(name) ?? job.metadata.annotations?.[annotationKeys.admittedNode] ?? nodeOfPod(job, pods);
      if (DockerdAdmissionStep.isQueued(job) && admittedTo === undefined) {
        // A Hyper-V isolated build waits for an engine of the pool it runs on.
        queued.push({ job: name, version: hostVersionOf(job), engine, createdAt: new Date(job.metadata.creationTimestamp ?? 0).toISOString() });
      } else if (admittedTo !== undefined && !isEnded(job)) {
        running.push({ job: name, node: admittedTo });
      }
    }
    const held = this.cliImageHeldOn();
    const nodes: DockerdNode[] = this.informers.dockerdPods
      .list()
      .filter((pod) => pod.spec?.nodeName && !pod.metadata?.deletionTimestamp)
      .map((pod) => {
        const node = pod.spec!.nodeName!;
        const version = pod.metadata?.labels?.[dockerdPodLabels.windowsVersion] ?? "";
        const engine = pod.metadata?.labels?.[dockerdPodLabels.name] === dockerdPodLabels.buildkitdNameValue ? ("buildkitd" as const) : ("dockerd" as const);
        return {
          node,
          version,
          engine,
          ready: engineReady(pod),
          // buildkit-windows Jobs run buildctl, not the docker CLI image.
          ...(held && engine === "dockerd" ? { holdsCliImage: held.get(version)?.has(node) ?? false } : {}),
        };
      });
    return { queued, running, nodes, maxBuildsPerNode: this.maxBuildsPerNode };
  }
}

/** The engine a Job waits for: dockerd for the dockerd pool, buildkitd for BuildKit on the Windows nodes; undefined for Linux BuildKit, which the scheduler places. */
function engineOf(job: V1Job): Engine | undefined {
  const builder = builderOf(job);
  return builder === "docker" ? "dockerd" : builder === "buildkit-windows" ? "buildkitd" : undefined;
}

/** A dockerd Job from before admission existed runs wherever its pod was scheduled. */
function nodeOfPod(job: V1Job, pods: readonly V1Pod[]): string | undefined {
  if (job.spec?.suspend === true) return undefined;
  const uid = job.metadata?.uid;
  return pods.find((pod) => pod.metadata?.ownerReferences?.some((o) => o.uid === uid) && pod.spec?.nodeName)?.spec?.nodeName;
}
