import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";
import type { PlatformState } from "./protocol/build-state.js";
import { type PlatformPhase, platformPhases } from "./protocol/phases.js";

export interface MetricsSources {
  /** The platform builds the executor knows of now (read at each scrape, so the gauge never drifts from the cluster). */
  platformPhases?: () => Iterable<PlatformPhase>;
}

/** The dispatcher's Prometheus metrics, one registry per process (tests make their own). */
export function createMetrics(sources: MetricsSources = {}) {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
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
  };
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
