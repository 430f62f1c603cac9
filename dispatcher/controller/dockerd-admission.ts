// Which queued Windows-pool builds start now, and on which node. Pure.
//
// A Windows build on the dockerd pool runs inside the node's dockerd, which
// the scheduler does not see: its pod requests a docker CLI's worth of CPU
// and memory, so dozens could land on one node. And a node whose dockerd is
// not Ready (new, autoscaled, rebooting, mid-rollout) has no pipe to build
// on. So dockerd Jobs are created suspended, and the leader admits each to one
// node whose dockerd pod is Ready and runs fewer than maxBuildsPerNode builds,
// first come first served per Windows version. The Jobs carry the state
// (suspended or not, and the node they were admitted to), so a restart loses
// nothing. BuildKit on the Windows nodes (builder buildkit-windows) is
// admitted the same way against its buildkitd pods; a node's slots count the
// builds of both engines, which share its CPU and disk.

/** The daemon a Windows-pool build runs in: dockerd, or buildkitd (buildkit-windows). */
export type Engine = "dockerd" | "buildkitd";

export interface QueuedBuild {
  readonly job: string;
  readonly version: string;
  /** Absent: dockerd. */
  readonly engine?: Engine;
  /** ISO time the Job was created: the queue's order. */
  readonly createdAt: string;
}

export interface RunningBuild {
  readonly job: string;
  readonly node: string;
}

export interface DockerdNode {
  readonly node: string;
  readonly version: string;
  /** Absent: dockerd. */
  readonly engine?: Engine;
  /** Its engine's pod is Ready: the engine answers on the pipe. */
  readonly ready: boolean;
  /**
   * dockerd nodes: its docker-cli pod has run the pool's CLI image, so a
   * build's pod starts without pulling it (a Windows Server Core image,
   * minutes on a node that just joined). Undefined: not known.
   */
  readonly holdsCliImage?: boolean;
}

export interface AdmissionInput {
  readonly queued: readonly QueuedBuild[];
  readonly running: readonly RunningBuild[];
  readonly nodes: readonly DockerdNode[];
  readonly maxBuildsPerNode: number;
}

export type AdmissionDecision = { readonly admit: true; readonly node: string } | { readonly admit: false; readonly reason: string };

/** The decision for every queued build, by Job name. */
export function admitDockerdBuilds(input: AdmissionInput): Map<string, AdmissionDecision> {
  const load = new Map<string, number>();
  for (const build of input.running) load.set(build.node, (load.get(build.node) ?? 0) + 1);

  const decisions = new Map<string, AdmissionDecision>();
  const queue = [...input.queued].sort((a, b) => a.createdAt.localeCompare(b.createdAt) || a.job.localeCompare(b.job));
  const waitingPerPool = new Map<string, number>();
  for (const build of queue) {
    const engine = build.engine ?? "dockerd";
    const nodes = input.nodes.filter((node) => node.version === build.version && (node.engine ?? "dockerd") === engine);
    const ready = nodes.filter((node) => node.ready).sort((a, b) => a.node.localeCompare(b.node));
    // Nodes that hold the CLI image first, even if busier: a free slot on a
    // node still pulling it would start the build minutes later. Then the
    // least busy. A build never waits for a holder while another node is free.
    const free = ready
      .map((node) => ({ node: node.node, running: load.get(node.node) ?? 0, holds: node.holdsCliImage === true ? 0 : 1 }))
      .filter((node) => node.running < input.maxBuildsPerNode)
      .sort((a, b) => a.holds - b.holds || a.running - b.running || a.node.localeCompare(b.node))[0];
    if (free) {
      load.set(free.node, free.running + 1);
      decisions.set(build.job, { admit: true, node: free.node });
      continue;
    }
    const pool = `${engine}/${build.version}`;
    const ahead = waitingPerPool.get(pool) ?? 0;
    waitingPerPool.set(pool, ahead + 1);
    decisions.set(build.job, { admit: false, reason: waitingReason(engine, build.version, nodes, ready.length, input.maxBuildsPerNode, ahead) });
  }
  return decisions;
}

/**
 * Whether a queued build waits for an engine (no dockerd pod of its version,
 * or none Ready) rather than for a slot: that wait is bounded like an
 * unschedulable pod's (limits.unschedulableAfterSeconds), a busy pool's is not.
 */
export function waitsForEngine(reason: string | undefined): boolean {
  return reason !== undefined && !reason.startsWith(slotReasonStart);
}

const slotReasonStart = "waiting for a free build slot";

function waitingReason(engine: Engine, version: string, nodes: readonly DockerdNode[], readyCount: number, maxBuildsPerNode: number, ahead: number): string {
  const line = ahead === 0 ? "" : `, ${ahead} ahead`;
  // The DaemonSets deploy/ ships: dockerd-<version>, buildkitd-<version>.
  if (nodes.length === 0) return `waiting for a ${version} node with a ${engine} pod (no ${engine}-${version} pod is scheduled${line})`;
  if (readyCount === 0) {
    return `waiting for a Ready ${engine} on the ${version} pool (${nodes.length} node${nodes.length === 1 ? "" : "s"}, none Ready${line})`;
  }
  return `${slotReasonStart} on the ${version} pool (${readyCount} node${readyCount === 1 ? "" : "s"} × ${maxBuildsPerNode} build${maxBuildsPerNode === 1 ? "" : "s"}, all busy${line})`;
}
