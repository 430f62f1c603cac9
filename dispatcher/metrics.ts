import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";
import packageJson from "../package.json" with { type: "json" };
import type { PlatformState } from "./protocol/build-state.js";
import { type PlatformPhase, platformPhases } from "./protocol/phases.js";

/** One dockerd DaemonSet pod as the dispatcher's informer sees it: the node it runs on, its Windows version, whether it is Ready. */
export interface DockerdDaemon {
  readonly windowsVersion: string;
  readonly ready: boolean;
  /** The node it runs on (a pool node). */
  readonly node?: string;
}

export interface DockerdPoolView {
  /** The versions with a pool in dockerPool.pools: each gets a series even with no dockerd pod at all, so "no engine" is a 0, not an absence an alert cannot see. */
  readonly configured: readonly string[];
  readonly daemons: Iterable<DockerdDaemon>;
  /**
   * Per Windows version, the nodes that hold its docker CLI image (a
   * docker-cli pod there ran dockerPool.images.<version> and still lives);
   * undefined when not known (no informer), which exports no missing-image series.
   */
  readonly cliImageHeldOn?: ReadonlyMap<string, ReadonlySet<string>>;
}

export interface MetricsSources {
  /** The platform builds the executor knows of now (read at each scrape, so the gauge never drifts from the cluster). */
  platformPhases?: () => Iterable<PlatformPhase>;
  /** The dockerd pool now (Kubernetes executor only; the local executor has no pool and exports no series). */
  dockerdPool?: () => DockerdPoolView | undefined;
  /** The image's source revision (DOCKHAND_REVISION, set at image build), for dockhand_build_info. */
  revision?: string;
}

/** The release this code is, from package.json (bundled into the image, so it is right wherever the code runs). */
export const dockhandVersion: string = packageJson.version;

/** The dispatcher's Prometheus metrics, one registry per process (tests make their own). */
export function createMetrics(sources: MetricsSources = {}) {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  // Prometheus's own convention (prometheus_build_info): always 1, the facts in labels, joined onto other series with `* on(pod) group_left(version)`.
  new Gauge({
    name: "dockhand_build_info",
    help: "Always 1; the dispatcher's version, source revision and Node.js version as labels.",
    labelNames: ["version", "revision", "nodejs_version"] as const,
    registers: [registry],
  }).set({ version: dockhandVersion, revision: sources.revision || "unknown", nodejs_version: process.versions.node }, 1);
  return {
    registry,
    httpRequests: new Counter({
      name: "dockhand_http_requests_total",
      help: "HTTP requests by route and status code.",
      labelNames: ["method", "route", "status"] as const,
      registers: [registry],
    }),
    buildsAccepted: new Counter({
      name: "dockhand_builds_accepted_total",
      help: "Build requests accepted (new builds, not retries).",
      labelNames: ["executor"] as const,
      registers: [registry],
    }),
    buildsRejected: new Counter({
      name: "dockhand_builds_rejected_total",
      help: "Build requests rejected, by the field at fault.",
      labelNames: ["field"] as const,
      registers: [registry],
    }),
    platformsFinished: new Counter({
      name: "dockhand_platform_builds_total",
      help: "Platform builds that ended, by result, builder and platform.",
      labelNames: ["result", "builder", "platform"] as const,
      registers: [registry],
    }),
    buildDuration: new Histogram({
      name: "dockhand_platform_build_duration_seconds",
      help: "Time from a platform's pod start to its end.",
      labelNames: ["builder", "platform", "result"] as const,
      buckets: [5, 15, 30, 60, 120, 300, 600, 1200, 2400, 3600],
      registers: [registry],
    }),
    queueTime: new Histogram({
      name: "dockhand_platform_queue_seconds",
      help: "Time from Job creation to its pod starting.",
      labelNames: ["builder", "platform"] as const,
      buckets: [0.5, 1, 2, 5, 10, 30, 60, 120, 300],
      registers: [registry],
    }),
    githubErrors: new Counter({
      name: "dockhand_github_api_errors_total",
      help: "Failed GitHub API calls (including ones retried), by kind.",
      labelNames: ["kind"] as const,
      registers: [registry],
    }),
    statusesReported: new Counter({
      name: "dockhand_commit_statuses_total",
      help: "Commit statuses delivered, by state.",
      labelNames: ["state"] as const,
      registers: [registry],
    }),
    contextBytes: new Counter({
      name: "dockhand_context_upload_bytes_total",
      help: "Bytes of build contexts stored.",
      registers: [registry],
    }),
    reconcileLag: new Histogram({
      name: "dockhand_reconcile_lag_seconds",
      help: "Time from a Job or pod change event to the end of the reconcile that handled it, by outcome.",
      labelNames: ["outcome"] as const,
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers: [registry],
    }),
    buildsTracked: new Gauge({
      name: "dockhand_builds_tracked",
      help: "Platform builds the executor knows of (for Kubernetes: build Jobs in its namespace), by state.",
      labelNames: ["state"] as const,
      registers: [registry],
      collect() {
        if (!sources.platformPhases) return;
        const counts = new Map<PlatformPhase, number>(platformPhases.map((phase) => [phase, 0]));
        for (const phase of sources.platformPhases()) counts.set(phase, (counts.get(phase) ?? 0) + 1);
        for (const [state, count] of counts) this.set({ state }, count);
      },
    }),
    dockerdNodes: new Gauge({
      name: "dockhand_dockerd_pool_nodes",
      help: "Nodes running a dockerd DaemonSet pod (scheduled, not terminating), by Windows version; 0 for a configured version with none.",
      labelNames: ["windows_version"] as const,
      registers: [registry],
      collect() {
        const pool = sources.dockerdPool?.();
        this.reset(); // a version whose pods are gone and that is no longer configured leaves no stale series
        if (pool) for (const [windows_version, count] of dockerdPoolCounts(pool)) this.set({ windows_version }, count.nodes);
      },
    }),
    dockerdReadyNodes: new Gauge({
      name: "dockhand_dockerd_pool_ready_nodes",
      help: "Nodes whose dockerd pod is Ready, by Windows version: the nodes dockerd builds of that version are admitted to.",
      labelNames: ["windows_version"] as const,
      registers: [registry],
      collect() {
        const pool = sources.dockerdPool?.();
        this.reset();
        if (pool) for (const [windows_version, count] of dockerdPoolCounts(pool)) this.set({ windows_version }, count.ready);
      },
    }),
    dockerdNodesMissingCliImage: new Gauge({
      name: "dockhand_dockerd_pool_nodes_missing_cli_image",
      help: "Nodes with a dockerd pod whose docker CLI image (dockerPool.images) is not known to be there (no docker-cli pod on the node has run it), by Windows version: a build there pulls it first.",
      labelNames: ["windows_version"] as const,
      registers: [registry],
      collect() {
        const pool = sources.dockerdPool?.();
        this.reset();
        if (pool?.cliImageHeldOn) for (const [windows_version, count] of nodesMissingCliImage(pool)) this.set({ windows_version }, count);
      },
    }),
    leader: new Gauge({
      name: "dockhand_leader",
      help: "1 while this replica holds the Lease and so reconciles and reports (always 1 for the local executor), else 0.",
      registers: [registry],
    }),
  };
}

/** Nodes and Ready nodes per Windows version: every configured version, and any version a dockerd pod carries. */
export function dockerdPoolCounts(pool: DockerdPoolView): Map<string, { nodes: number; ready: number }> {
  const counts = new Map<string, { nodes: number; ready: number }>(pool.configured.map((version) => [version, { nodes: 0, ready: 0 }]));
  for (const daemon of pool.daemons) {
    const count = counts.get(daemon.windowsVersion) ?? { nodes: 0, ready: 0 };
    count.nodes += 1;
    if (daemon.ready) count.ready += 1;
    counts.set(daemon.windowsVersion, count);
  }
  return counts;
}

/** Per Windows version (every configured one, and any a dockerd pod carries): its dockerd nodes that do not hold its CLI image. */
export function nodesMissingCliImage(pool: DockerdPoolView): Map<string, number> {
  const nodes = new Map<string, Set<string>>(pool.configured.map((version) => [version, new Set()]));
  for (const daemon of pool.daemons) {
    const set = nodes.get(daemon.windowsVersion) ?? new Set<string>();
    if (daemon.node) set.add(daemon.node);
    nodes.set(daemon.windowsVersion, set);
  }
  const missing = new Map<string, number>();
  for (const [version, names] of nodes) {
    const held = pool.cliImageHeldOn?.get(version);
    missing.set(version, [...names].filter((node) => !held?.has(node)).length);
  }
  return missing;
}

export type Metrics = ReturnType<typeof createMetrics>;

/**
 * Records a platform's commit status once it is delivered: on its final one,
 * the result counter and the duration and queue-time histograms. Both
 * executors call it from their reporting path, so a build counts once
 * whichever ran it, and only once GitHub has heard of it.
 */
export function recordReported(metrics: Metrics, platform: PlatformState, final: boolean): void {
  if (!final) return;
  const { builder, platform: name, state: result } = platform;
  metrics.platformsFinished.inc({ result, builder, platform: name });
  const created = Date.parse(platform.createdAt ?? "");
  const start = Date.parse(platform.startedAt ?? "");
  const end = Date.parse(platform.finishedAt ?? "");
  if (Number.isFinite(start) && Number.isFinite(end)) metrics.buildDuration.observe({ builder, platform: name, result }, Math.max(0, (end - start) / 1000));
  if (Number.isFinite(created) && Number.isFinite(start)) metrics.queueTime.observe({ builder, platform: name }, Math.max(0, (start - created) / 1000));
}
