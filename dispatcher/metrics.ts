import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";

/** The dispatcher's Prometheus metrics, one registry per process (tests make their own). */
export function createMetrics() {
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
    buildsTracked: new Gauge({
      name: "dockhand_builds_tracked",
      help: "Platform builds currently known to the reconciler, by state.",
      labelNames: ["state"] as const,
      registers: [registry],
    }),
  };
}

export type Metrics = ReturnType<typeof createMetrics>;
